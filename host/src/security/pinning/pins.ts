// Tool pinning against rug pulls. A server that was trusted when an operator
// added it can later change what its tools say (a description with hidden
// instructions for the model, a new parameter that asks for a secret, a
// readOnlyHint that makes a write look safe to retry). The gateway records a
// digest of each upstream tool's definition the first time it sees it (trust
// on first use) or when an operator approves it, and screens every catalog
// an upstream lists against those pins:
//   pin   a changed definition is withheld: not listed, calls refused;
//   warn  it is listed (marked in _meta) and reported;
//   off   nothing is recorded or checked.
// Either way a changed definition is recorded as waiting, for `mcp-edge tools
// diff` and `approve`, and reported (log, /health, /metrics, mcp-edge://providers).
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { TOOL_WITHHELD } from '../../protocol/jsonrpc.js';
import type { Logger } from '../../telemetry/log.js';
import { shortDigest, toolDigest } from './digest.js';
import type { PinStore } from './store.js';
import { approveCommand, diffCommand, oneLine } from './words.js';
import { McpError } from '../../protocol/mcp-error.js';

export type PinMode = 'pin' | 'warn' | 'off';

export interface PinSettings {
  mode: PinMode;
  /** Hold tools that appear after the upstream's first catalog until approved, instead of trusting them on first use. */
  holdNewTools: boolean;
}

/** `_meta` key of a tool listed (warn mode) although its definition is not approved. */
export const UNAPPROVED_META_KEY = 'dev.mcp-edge/unapproved';

/** Most pins kept per upstream: one that invents tool names without end does not fill the disk. */
export const MAX_PINS_PER_UPSTREAM = 10_000;

/** How often a running gateway looks for approvals made by `mcp-edge tools approve`. */
export const APPROVAL_POLL_MS = 1000;

/** An offered tool whose definition is not approved. */
export interface Unapproved {
  upstream: string;
  /** Its name as the upstream offers it. */
  tool: string;
  /** changed: another definition was approved; new: none ever was (hold_new_tools, or over the pin limit). */
  reason: 'changed' | 'new';
  digest: string;
  /** Listed anyway (warn mode), or withheld (pin mode). */
  listed: boolean;
  /** New, and past MAX_PINS_PER_UPSTREAM: not recorded, so it cannot be approved either. */
  overLimit?: true;
}

/** One upstream's pins, for /health, /metrics and mcp-edge://providers. */
export interface PinSummary {
  mode: PinMode;
  /** Tools with an approved definition. */
  pinned: number;
  /** Offered now, not approved, not listed. */
  withheld: string[];
  /** Offered now, not approved, listed anyway (warn mode). */
  listedUnapproved: string[];
}

interface Pin {
  approved: string | null;
  pending: string | null;
}

export class ToolPins {
  /** upstream -> tool -> its pin, as in SQLite. */
  private pins = new Map<string, Map<string, Pin>>();
  /** upstream -> tool -> its definition as last listed (JSON.stringify) and digest: a list sent again as before is not digested again. */
  private lastListed = new Map<string, Map<string, { raw: string; digest: string }>>();
  /** upstream -> its offered tools that are not approved, as of its last screening. */
  private readonly unapproved = new Map<string, Map<string, Unapproved>>();
  private generation: string;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private pollFailed = false;

  constructor(
    private readonly store: PinStore,
    private readonly settings: ReadonlyMap<string, PinSettings>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.generation = store.generation();
    this.load();
  }

  private load(): void {
    const pins = new Map<string, Map<string, Pin>>();
    for (const row of this.store.rows()) {
      const tools = pins.get(row.upstream) ?? new Map<string, Pin>();
      tools.set(row.tool, { approved: row.approvedDigest, pending: row.pendingDigest });
      pins.set(row.upstream, tools);
    }
    this.pins = pins;
  }

  private pinsOf(upstream: string): Map<string, Pin> {
    let tools = this.pins.get(upstream);
    if (!tools) this.pins.set(upstream, (tools = new Map()));
    return tools;
  }

  /** Calls `listener` when approvals arrived from outside (the lists must be screened again). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The tools of `upstream`'s catalog that clients may see: approved ones,
   * and (warn mode) unapproved ones marked in `_meta`. Records first uses and
   * changed definitions in SQLite (one transaction, only when something is new).
   */
  screen(upstream: string, tools: readonly Tool[]): Tool[] {
    const settings = this.settings.get(upstream);
    if (!settings || settings.mode === 'off') return tools as Tool[];
    const pins = this.pinsOf(upstream);
    const known = pins.size > 0;
    const writes: ((store: PinStore) => void)[] = [];
    const trusted: string[] = [];
    const unapproved = new Map<string, Unapproved>();
    const listed: Tool[] = [];
    const before = this.lastListed.get(upstream);
    const now = new Map<string, { raw: string; digest: string }>();
    for (const tool of tools) {
      const verdict = this.judge(upstream, settings, pins, known, tool, digestOf(tool, before, now), writes, trusted);
      if (verdict === undefined) listed.push(tool);
      else {
        unapproved.set(tool.name, verdict);
        if (verdict.listed) listed.push(marked(tool, verdict));
      }
    }
    this.lastListed.set(upstream, now);
    this.write(upstream, writes);
    this.report(upstream, known, trusted, unapproved);
    return listed;
  }

  /** Decides one tool: undefined when its definition is approved (or trusted now, on first use). */
  private judge(upstream: string, settings: PinSettings, pins: Map<string, Pin>, known: boolean, tool: Tool, digest: string, writes: ((s: PinStore) => void)[], trusted: string[]): Unapproved | undefined {
    const canonical = () => toolDigest(tool).canonical;
    const now = this.now();
    const name = tool.name;
    const unapproved = (reason: Unapproved['reason']): Unapproved => ({ upstream, tool: name, reason, digest, listed: settings.mode === 'warn' });
    const pin = pins.get(name);
    if (!pin) {
      if (pins.size >= MAX_PINS_PER_UPSTREAM) return { ...unapproved('new'), overLimit: true };
      if (known && settings.holdNewTools) {
        pins.set(name, { approved: null, pending: digest });
        writes.push((s) => s.recordPending(upstream, name, digest, canonical(), now));
        return unapproved('new');
      }
      pins.set(name, { approved: digest, pending: null });
      writes.push((s) => s.recordFirstUse(upstream, name, digest, canonical(), now));
      trusted.push(name);
      return undefined;
    }
    if (pin.approved === digest) {
      if (pin.pending !== null) {
        pin.pending = null;
        writes.push((s) => s.clearPending(upstream, name));
      }
      return undefined;
    }
    if (pin.pending !== digest) {
      pin.pending = digest;
      writes.push((s) => s.recordPending(upstream, name, digest, canonical(), now));
    }
    return unapproved(pin.approved === null ? 'new' : 'changed');
  }

  /** A pin that cannot be written still holds for this run; the log says the next start may not know it. */
  private write(upstream: string, writes: ((s: PinStore) => void)[]): void {
    if (writes.length === 0) return;
    try {
      this.store.transaction(() => {
        for (const w of writes) w(this.store);
      });
    } catch (err) {
      this.log.error(`tool pinning: could not record the tool definitions of upstream "${upstream}"; they hold until the gateway stops`, { error: (err as Error).message });
    }
  }

  /** Logs what changed since the upstream's last screening, once per definition. */
  private report(upstream: string, known: boolean, trusted: string[], now: Map<string, Unapproved>): void {
    const before = this.unapproved.get(upstream) ?? new Map<string, Unapproved>();
    this.unapproved.set(upstream, now);
    if (trusted.length > 0) {
      if (known) this.log.info(`upstream "${upstream}": new tool(s) pinned on first use`, { tools: trusted.map(oneLine) });
      else this.log.info(`upstream "${upstream}": ${trusted.length} tool definition(s) pinned on first use`);
    }
    let overLimit = 0;
    let overLimitBefore = 0;
    for (const u of before.values()) if (u.overLimit) overLimitBefore += 1;
    for (const u of now.values()) {
      // One line for all the tools past the limit: a server offering 50,000 tools wrote 40,000 warnings.
      if (u.overLimit) {
        overLimit += 1;
        continue;
      }
      if (before.get(u.tool)?.digest === u.digest) continue;
      this.log.warn(`upstream "${upstream}": tool "${oneLine(u.tool)}" ${describe(u)}. Review: ${diffCommand(upstream, u.tool)}; approve: ${approveCommand(upstream, u.tool)}`, {
        digest: shortDigest(u.digest),
      });
    }
    if (overLimit > 0 && overLimit !== overLimitBefore) {
      const fate = [...now.values()].find((u) => u.overLimit)?.listed ? 'listed unapproved (pinning = "warn")' : 'withheld from clients';
      this.log.warn(
        `upstream "${upstream}": ${overLimit} tool(s) beyond the ${MAX_PINS_PER_UPSTREAM} definitions tool pinning keeps per upstream are ${fate}, and cannot be approved. Narrow what it offers with include / exclude, or set pinning = "off" on it.`,
      );
    }
  }

  /** The offered tools of `upstream` withheld from clients now. */
  withheld(upstream: string): Unapproved[] {
    return [...(this.unapproved.get(upstream)?.values() ?? [])].filter((u) => !u.listed);
  }

  /**
   * Whether a call to `tool` (as `upstream` offers it now) must wait, judged
   * on the spot without recording anything: for calls that do not go
   * through the listing (the offline queue's deliveries).
   */
  check(upstream: string, tool: Tool | undefined): Unapproved | undefined {
    const settings = this.settings.get(upstream);
    if (!settings || settings.mode === 'off' || !tool) return undefined;
    const pins = this.pins.get(upstream);
    const pin = pins?.get(tool.name);
    const { digest } = toolDigest(tool);
    if (pin?.approved === digest) return undefined;
    // Never seen: the next screening trusts it on first use, unless new tools are held.
    if (!pin && !(settings.holdNewTools && (pins?.size ?? 0) > 0)) return undefined;
    return { upstream, tool: tool.name, reason: pin?.approved ? 'changed' : 'new', digest, listed: settings.mode === 'warn' };
  }

  summary(upstream: string): PinSummary | undefined {
    const settings = this.settings.get(upstream);
    if (!settings) return undefined;
    const offered = [...(this.unapproved.get(upstream)?.values() ?? [])];
    let pinned = 0;
    for (const pin of this.pins.get(upstream)?.values() ?? []) if (pin.approved !== null) pinned += 1;
    return {
      mode: settings.mode,
      pinned,
      withheld: offered.filter((u) => !u.listed).map((u) => u.tool),
      listedUnapproved: offered.filter((u) => u.listed).map((u) => u.tool),
    };
  }

  /** Reloads the pins when an approval was recorded since the last look; true when it was. */
  refresh(): boolean {
    const generation = this.store.generation();
    if (generation === this.generation) return false;
    this.generation = generation;
    this.load();
    this.log.info('tool pinning: approvals recorded by "mcp-edge tools approve" are in force');
    for (const listener of this.listeners) listener();
    return true;
  }

  /** Looks for approvals every `ms` (the approving CLI is another process on the same SQLite file). */
  watch(ms = APPROVAL_POLL_MS): void {
    this.close();
    this.timer = setInterval(() => this.poll(), ms);
    this.timer.unref();
  }

  private poll(): void {
    try {
      this.refresh();
      this.pollFailed = false;
    } catch (err) {
      if (!this.pollFailed) this.log.warn('tool pinning: could not look for approvals in the database; retrying every second', { error: (err as Error).message });
      this.pollFailed = true;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * A tool's digest, reusing the one of its last listing when the upstream
 * sent it again byte for byte (JSON.stringify is native and several times
 * cheaper than canonical JSON and SHA-256). Records it in `now`.
 */
function digestOf(tool: Tool, before: Map<string, { raw: string; digest: string }> | undefined, now: Map<string, { raw: string; digest: string }>): string {
  const raw = JSON.stringify(tool);
  const last = before?.get(tool.name);
  const digest = last?.raw === raw ? last.digest : toolDigest(tool).digest;
  now.set(tool.name, { raw, digest });
  return digest;
}

function describe(u: Unapproved): string {
  const what = u.reason === 'changed' ? 'changed its definition since it was approved' : 'is new and not approved';
  return u.listed ? `${what}; listed anyway (pinning = "warn")` : `${what}; withheld from clients until approved`;
}

/** A warn-mode listing: the tool, marked so that a client can show the warning too. */
function marked(tool: Tool, u: Unapproved): Tool {
  return { ...tool, _meta: { ...tool._meta, [UNAPPROVED_META_KEY]: { reason: u.reason, digest: u.digest } } };
}

/** The JSON-RPC error for a call to a withheld tool (`name` as the client called it). */
export function withheldError(name: string, u: Unapproved): McpError {
  if (u.overLimit) {
    return new McpError(
      TOOL_WITHHELD,
      `Tool "${name}" is withheld: upstream "${u.upstream}" offers more tools than the ${MAX_PINS_PER_UPSTREAM} definitions tool pinning keeps per upstream, and this is one beyond them. ` +
        'An operator can narrow what that upstream offers with include / exclude, or set pinning = "off" on it.',
      { upstream: u.upstream, tool: u.tool, reason: u.reason, digest: u.digest },
    );
  }
  const why =
    u.reason === 'changed'
      ? `upstream "${u.upstream}" changed its definition since it was approved`
      : `upstream "${u.upstream}" offers it as a new tool that nobody approved yet`;
  return new McpError(
    TOOL_WITHHELD,
    `Tool "${name}" is withheld: ${why}, and this gateway does not offer an unapproved tool definition (tool pinning). ` +
      `An operator can review the change with \`${diffCommand(u.upstream, u.tool)}\` and approve it with \`${approveCommand(u.upstream, u.tool)}\`.`,
    { upstream: u.upstream, tool: u.tool, reason: u.reason, digest: u.digest },
  );
}
