// Who answers an upstream's sampling/createMessage: the client whose call is
// running (as the other upstream requests go, caller.ts), or the gateway's own
// models ([models] answer_sampling). The gateway answers when its client
// cannot: the client did not declare the sampling capability, or no client
// call is in flight (a queued call delivered later). When several sessions
// have calls in flight and none of them can sample, the gateway may answer
// too: it shows the prompt to no client, so nothing reaches the wrong one.
import type { CreateMessageRequest, CreateMessageResult } from '@modelcontextprotocol/sdk/types.js';
import type { ProviderCallContext } from '../provider.js';
import { chooseCaller } from './caller.js';

/** [models] answer_sampling: when the gateway answers sampling itself. */
export type AnswerSampling = 'when-client-cannot' | 'always' | 'never';

/** The gateway's models as an answerer of sampling, handed to each upstream. */
export interface GatewaySampling {
  mode: AnswerSampling;
  /** Answers with the model router; throws McpError when it cannot. */
  answer(params: CreateMessageRequest['params'], signal: AbortSignal): Promise<CreateMessageResult>;
}

/** Why neither the client nor the gateway answers (the `data.code` of the refusal). */
export type SamplingRefusal = 'client_cannot_sample' | 'no_client';

export type SamplingRoute = { to: 'client' } | { to: 'gateway' } | { to: 'refused'; code: SamplingRefusal };

const canSample = (caller: ProviderCallContext): boolean => caller.clientCapabilities?.sampling !== undefined;

/** Where a sampling request goes, given the calls in flight that it may belong to (oldest first). */
export function routeSampling(callers: readonly ProviderCallContext[], mode: AnswerSampling): SamplingRoute {
  if (mode === 'always') return { to: 'gateway' };
  const choice = chooseCaller(callers);
  const withClient = callers.filter((c) => c.client);
  // A client that can sample, or a mix the client route refuses as ambiguous: as before this setting existed.
  if (withClient.some(canSample)) return { to: 'client' };
  if (mode === 'never') return { to: 'refused', code: choice.kind === 'none' ? 'no_client' : 'client_cannot_sample' };
  return { to: 'gateway' };
}

/** The refusal's message: what happened and what to change. */
export function refusalMessage(code: SamplingRefusal, upstream: string): string {
  const who = code === 'no_client' ? 'no client call is in flight to send it to' : 'the calling client did not declare the sampling capability';
  return `mcp-edge cannot answer sampling/createMessage from upstream "${upstream}": ${who}, and [models] answer_sampling = "never" keeps the gateway's own models out of it. Set answer_sampling = "when-client-cannot" (with a model in [models]) or use a client that supports sampling.`;
}
