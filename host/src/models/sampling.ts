// MCP sampling answered by the gateway's own models: an upstream's
// sampling/createMessage becomes a completion of the model router (local
// first, the cloud when it must), and its answer a CreateMessageResult whose
// `model` names the model that wrote it. Whether the gateway answers at all is
// decided where the request arrives (providers/upstream/sampling.ts).
import type { CreateMessageRequest, CreateMessageResult } from '@modelcontextprotocol/sdk/types.js';
import { INVALID_PARAMS, MODEL_UNAVAILABLE, SAMPLING_REFUSED } from '../protocol/jsonrpc.js';
import type { GatewaySampling } from '../providers/upstream/sampling.js';
import { ModelError, type ChatMessage } from './engine.js';
import type { CompletionAnswer, ModelService } from './service.js';
import { McpError } from '../protocol/mcp-error.js';

type Params = CreateMessageRequest['params'];
type Content = Params['messages'][number]['content'];

/** The `_meta` key of a gateway-answered result: which engine served it, why, and what failed before. */
export const SAMPLING_META_KEY = 'dev.mcp-edge/model';

/** Answers `params` with `models`; every refusal is an McpError with `data.code`. */
export async function answerSampling(models: ModelService, params: Params, signal: AbortSignal): Promise<CreateMessageResult> {
  const messages = chatOf(params);
  if (!Number.isInteger(params.maxTokens) || params.maxTokens < 1) throw new McpError(INVALID_PARAMS, `sampling/createMessage: maxTokens must be a positive integer; got ${params.maxTokens}.`, { code: 'bad_request' });
  let answer: CompletionAnswer;
  try {
    answer = await models.generate({
      messages,
      maxTokens: params.maxTokens,
      // MCP leaves temperature open; the engines take 0..2 (OpenAI's range).
      ...(params.temperature !== undefined ? { temperature: Math.min(2, Math.max(0, params.temperature)) } : {}),
      ...(params.stopSequences?.length ? { stop: params.stopSequences } : {}),
      ...(params.modelPreferences ? { preferences: params.modelPreferences } : {}),
      signal,
    });
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    const code = err.code === 'bad_request' ? INVALID_PARAMS : MODEL_UNAVAILABLE;
    throw new McpError(code, `mcp-edge's models could not answer sampling/createMessage: ${err.message}`, { code: err.code });
  }
  return resultOf(answer);
}

/** The request as a chat: the system prompt first, then each message's text. */
function chatOf(params: Params): ChatMessage[] {
  // Sampling with tools needs a model that calls them; the router's engines only write text.
  if (params.tools?.length) throw unsupported('it offers tools (sampling with tools); the gateway\'s models answer with text only');
  const messages = params.messages.map((m, i): ChatMessage => ({ role: m.role, content: textOf(m.content, i) }));
  return params.systemPrompt ? [{ role: 'system', content: params.systemPrompt }, ...messages] : messages;
}

function textOf(content: Content, index: number): string {
  const blocks = Array.isArray(content) ? content : [content];
  return blocks
    .map((block) => {
      if (block.type === 'text') return block.text;
      throw unsupported(`message ${index} holds ${block.type} content; the gateway's models read text only`);
    })
    .join('');
}

function unsupported(why: string): McpError {
  return new McpError(SAMPLING_REFUSED, `mcp-edge cannot answer sampling/createMessage itself: ${why}. Use a client that supports sampling (and [models] answer_sampling = "when-client-cannot").`, { code: 'unsupported_request' });
}

function resultOf(answer: CompletionAnswer): CreateMessageResult {
  const stopReason = answer.finishReason === 'length' ? 'maxTokens' : answer.stoppedBySequence ? 'stopSequence' : 'endTurn';
  return {
    role: 'assistant',
    content: { type: 'text', text: answer.text },
    model: answer.model,
    stopReason,
    _meta: { [SAMPLING_META_KEY]: { engine: answer.engine, reason: answer.reason, fallbacks: answer.fallbacks } },
  };
}

/** The gateway's models as each upstream's sampling answerer, in the mode [models] answer_sampling sets. */
export function gatewaySampling(models: ModelService): GatewaySampling {
  return { mode: models.settings.answerSampling, answer: (params, signal) => answerSampling(models, params, signal) };
}
