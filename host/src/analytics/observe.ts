// The tools/call hook of usage analytics: times the call, notes the provider
// the router chose, and hands one CallRecord to the recorder as the call ends.
import { performance } from 'node:perf_hooks';
import type { CallToolResult, Task } from '@modelcontextprotocol/sdk/types.js';
import type { CallRouting } from '../providers/provider.js';
import type { UsageRecorder } from './usage.js';


/** The size and, when wanted, the text of a result's text content. */
function resultText(result: CallToolResult | { task: Task }, wantText: boolean): { bytes: number; text?: string } {
  const content = (result as CallToolResult).content;
  if (!Array.isArray(content)) return { bytes: 0 };
  let bytes = 0;
  const texts: string[] = [];
  for (const item of content) {
    if (item.type !== 'text') continue;
    bytes += Buffer.byteLength(item.text);
    if (wantText) texts.push(item.text);
  }
  return wantText ? { bytes, text: texts.join('\n') } : { bytes };
}

/**
 * What a failed call to a tool the gateway does not know is counted as. The
 * name is the client's to choose: counted as given, a client calling made-up
 * names wrote a row per name per hour into SQLite without end.
 */
export const UNKNOWN_TOOL = '(unknown tool)';

/**
 * Runs one tools/call (`routed` goes with it to the router) and records it,
 * whether it succeeds, fails or is refused; a failed call to a name `known`
 * does not know (when it ended) is recorded as UNKNOWN_TOOL.
 */
export async function observedCall<T extends CallToolResult | { task: Task }>(
  usage: UsageRecorder,
  principal: string,
  tool: string,
  args: unknown,
  routed: CallRouting,
  run: () => Promise<T>,
  known: (tool: string) => boolean,
): Promise<T> {
  const start = performance.now();
  const argBytes = args === undefined ? 0 : Buffer.byteLength(JSON.stringify(args));
  const base = { tool, principal };
  try {
    const result = await run();
    const out = resultText(result, usage.wantsText);
    usage.record({ ...base, provider: routed.provider ?? '', at: Date.now(), latencyMs: performance.now() - start, error: (result as CallToolResult).isError === true, bytes: argBytes + out.bytes, ...(out.text !== undefined ? { text: out.text } : {}) });
    return result;
  } catch (err) {
    const counted = routed.provider !== undefined || known(tool) ? base : { tool: UNKNOWN_TOOL, principal };
    usage.record({ ...counted, provider: routed.provider ?? '', at: Date.now(), latencyMs: performance.now() - start, error: true, bytes: argBytes });
    throw err;
  }
}
