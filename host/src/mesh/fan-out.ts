// Fan-out tools ([[mesh.fan_out]]): one call runs a tool on every provider
// that serves it now (this gateway itself and every mesh peer that shares
// it), all at once, and the answers merge by the tool's mode:
//   all     every provider's answer, once all are in;
//   first   the first answer that is not an error; the other calls are cancelled;
//   quorum  the first answer that `quorum` providers gave alike (same content
//           and structured content); the other calls are cancelled.
// Each provider runs the call once: nothing is retried or failed over, and a
// cancelled call may still have run on its provider.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { FanOutSettings } from '../config/mesh-settings.js';
import type { Aggregator } from '../gateway/aggregator/aggregator.js';
import type { ToolDefinition, ToolRegistry } from '../tools/registry.js';
import { canonicalJson } from '../security/pinning/digest.js';
import { MeshError } from './errors.js';

/** On a merged answer of mode first or quorum: which provider answered, how many were called (and agreed). */
export const FAN_OUT_META_KEY = 'dev.mcp-edge/fan-out';

/** One provider's answer: its result, or why it gave none. */
export interface FanOutAnswer {
  provider: string;
  result?: CallToolResult;
  error?: string;
}

type Call = { provider: string; result: Promise<CallToolResult> };

const MODE_TEXT: Record<FanOutSettings['mode'], string> = {
  all: 'every provider answer, once all are in',
  first: 'the first answer that is not an error (the other calls are cancelled)',
  quorum: 'the first answer enough providers gave alike (the other calls are cancelled)',
};

const succeeded = (a: FanOutAnswer): a is FanOutAnswer & { result: CallToolResult } => a.result !== undefined && a.result.isError !== true;

/** A tool-level answer with the fan-out's record as structured content (and as text, for clients that read only text). */
function report(tool: string, mode: FanOutSettings['mode'], answers: FanOutAnswer[], isError: boolean, why?: string): CallToolResult {
  const structured = { tool, mode, providers: answers.length, ...(why ? { error: why } : {}), answers };
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured, ...(isError ? { isError: true } : {}) };
}

/** The winning answer as the provider gave it, with the fan-out's record in `_meta`. */
function chosen(answer: FanOutAnswer & { result: CallToolResult }, record: Record<string, unknown>): CallToolResult {
  return { ...answer.result, _meta: { ...answer.result._meta, [FAN_OUT_META_KEY]: { provider: answer.provider, ...record } } };
}

/**
 * Resolves with the first decision `decide` takes as answers arrive, or with
 * `last(answers)` once every call answered undecided.
 */
function gather(calls: Call[], decide: (answers: FanOutAnswer[]) => CallToolResult | undefined, last: (answers: FanOutAnswer[]) => CallToolResult): Promise<CallToolResult> {
  return new Promise((resolve) => {
    const answers: FanOutAnswer[] = [];
    let done = false;
    for (const call of calls) {
      call.result
        .then(
          (result): FanOutAnswer => ({ provider: call.provider, result }),
          (err: unknown): FanOutAnswer => ({ provider: call.provider, error: (err as Error)?.message ?? String(err) }),
        )
        .then((answer) => {
          if (done) return;
          answers.push(answer);
          const decided = decide(answers) ?? (answers.length === calls.length ? last(answers) : undefined);
          if (decided) {
            done = true;
            resolve(decided);
          }
        });
    }
  });
}

/** Merges the answers of `calls` (started best first) by the fan-out's mode. */
export function merge(settings: FanOutSettings, calls: Call[]): Promise<CallToolResult> {
  const { tool, mode } = settings;
  const n = calls.length;
  // In the order the router ranked the providers, whatever order they answered in.
  const ranked = (answers: FanOutAnswer[]) => calls.flatMap((c) => answers.filter((a) => a.provider === c.provider));
  if (mode === 'all') return gather(calls, () => undefined, (answers) => report(tool, mode, ranked(answers), !answers.some(succeeded)));
  if (mode === 'first') {
    const first = (answers: FanOutAnswer[]) => {
      const ok = answers.find(succeeded);
      return ok && chosen(ok, { providers: n });
    };
    return gather(calls, first, (answers) => report(tool, mode, ranked(answers), true, `no provider of "${tool}" answered without an error`));
  }
  const quorum = settings.quorum ?? Math.floor(n / 2) + 1;
  if (quorum > n) return Promise.resolve(report(tool, mode, [], true, `a quorum of ${quorum} needs ${quorum} providers; ${n} serve "${tool}" now`));
  const agreed = (answers: FanOutAnswer[]) => {
    const counts = new Map<string, number>();
    for (const a of answers.filter(succeeded)) {
      const key = canonicalJson({ content: a.result.content, structuredContent: a.result.structuredContent });
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      if (count >= quorum) return chosen(a, { providers: n, agreed: count, quorum });
    }
    return undefined;
  };
  return gather(calls, agreed, (answers) => report(tool, mode, ranked(answers), true, `no ${quorum} providers of "${tool}" gave the same answer`));
}

/** The tool a [[mesh.fan_out]] entry lists. */
export function fanOutTool(settings: FanOutSettings, aggregator: Aggregator): ToolDefinition {
  const { name, tool, mode } = settings;
  return {
    name,
    description: `Runs "${tool}" on every provider that serves it (this gateway and its mesh peers) at once; answers ${MODE_TEXT[mode]}. Takes the arguments of "${tool}".`,
    input: { type: 'object' },
    handler: async (args, ctx) => {
      const stop = new AbortController();
      const calls = aggregator.callEverywhere(tool, args, { signal: AbortSignal.any([ctx.signal, stop.signal]) }) ?? [];
      if (calls.length === 0) return report(tool, mode, [], true, `no provider serves "${tool}" now (this gateway does not, and no mesh peer shares it)`);
      try {
        return await merge(settings, calls);
      } finally {
        // Decided (or all in): the calls still running are not needed any more.
        stop.abort(new Error(`fan-out "${name}" decided`));
      }
    },
  };
}

/** Registers the configured fan-out tools; a name this gateway already has is a config error. */
export function registerFanOutTools(registry: ToolRegistry, aggregator: Aggregator, fanOut: readonly FanOutSettings[]): void {
  for (const settings of fanOut) {
    if (registry.has(settings.name)) throw new MeshError(`mesh.fan_out: "${settings.name}" is already a tool of this gateway; give the fan-out tool another name`);
    registry.register(fanOutTool(settings, aggregator));
  }
}
