// Authorization ([authorization]): which tools, resources, prompts, HTTP
// routes and admin operations each principal may use. Rules are compiled once
// when the gateway starts; a principal's applicable rules are found once per
// principal (PerPrincipal) and shared by every principal with the same ones
// (a View); a View remembers its verdict per name until the catalog changes.
// So a tools/call costs two map lookups once warm.
//
// Evaluation, for one principal and one name (docs/security.md, "Authorization"):
// 1. no [authorization] section: everything is allowed (the gateway before it);
// 2. the rules whose `principals` match the caller apply, in any order;
// 3. a deny rule that matches the name (or any other name it goes by) denies;
// 4. else an allow rule that matches allows (every name it goes by must match);
// 5. else the default: allowed for local principals (loopback, stdio);
//    `authorization.default` for authenticated ones, but admin operations are
//    denied to them unless a rule allows them by name, and the MCP endpoint
//    (/mcp) is allowed (what it serves is judged by steps 3-5).
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { AuthorizationRule, AuthorizationSettings } from '../config/policy-settings.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { POLICY_DENIED } from '../protocol/jsonrpc.js';
import { LabelledCounter } from './counters.js';
import { GlobSet } from './glob.js';
import { PerPrincipal, PrincipalMatcher } from './principal-match.js';
import type { Principal } from './principal.js';
import { McpError } from '../protocol/mcp-error.js';

/** What a denial was about; `rate` is a rate limit's refusal (security/rate-limit.ts). */
export type DenialKind = 'tool' | 'resource' | 'prompt' | 'route' | 'admin' | 'rate';

/** One refusal, for the audit log. */
export interface Denial {
  principal: Principal;
  kind: DenialKind;
  /** The tool, prompt, URI, "METHOD /path" or admin operation. */
  name: string;
  /** Why, for the operator (the client is told less). */
  reason: string;
}

export type DenialHook = (denial: Denial) => void;

type Part = 'tools' | 'resources' | 'prompts' | 'routes' | 'admin';

/** Which admin operation a tool (by its qualified name) or a route is. */
const ADMIN_TOOLS: ReadonlyMap<string, string> = new Map([['queue_sync', 'queue_sync']]);
const ADMIN_ROUTES: ReadonlyMap<string, string> = new Map([['POST /v1/queue/sync', 'queue_sync']]);
/** Most distinct sets of applicable rules remembered at once. */
const MAX_VIEWS = 1024;
const MCP_ROUTES: ReadonlySet<string> = new Set(['POST /mcp', 'GET /mcp', 'DELETE /mcp']);

interface CompiledRule {
  /** 1-based, as the operator counts [[authorization.rules]]. */
  number: number;
  effect: 'allow' | 'deny';
  who: PrincipalMatcher;
  names: Record<Part, GlobSet>;
}

function compileRule(rule: AuthorizationRule, i: number): CompiledRule {
  const folded = rule.effect === 'deny';
  return {
    number: i + 1,
    effect: rule.effect,
    who: new PrincipalMatcher(rule.principals, folded),
    names: { tools: new GlobSet(rule.tools), resources: new GlobSet(rule.resources), prompts: new GlobSet(rule.prompts), routes: new GlobSet(rule.routes), admin: new GlobSet(rule.admin) },
  };
}

/** A verdict: undefined when allowed, else why not. */
type Verdict = string | undefined;

/** What the policy reads of the aggregator: the lists, and the names each listed tool or prompt goes by. */
export interface PolicyCatalog {
  listTools(): Tool[];
  listPrompts(): Prompt[];
  /** Every "<namespace><separator><name>" (bare for local providers) behind a public tool name; undefined when none is listed under it. */
  qualifiedToolNames(name: string): readonly string[] | undefined;
  qualifiedPromptNames(name: string): readonly string[] | undefined;
}

/** Every principal with the same applicable rules shares one View and its remembered verdicts. */
class View {
  private tools: Tool[] | undefined;
  private prompts: Prompt[] | undefined;
  private readonly toolVerdicts = new Map<string, Verdict>();
  private readonly promptVerdicts = new Map<string, Verdict>();
  /** Route verdicts: every request asks one, and routes are the gateway's own (a fixed few), so all are remembered. */
  private readonly routeVerdicts = new Map<string, Verdict>();
  private listedTools: Tool[] = [];
  private listedPrompts: Prompt[] = [];

  constructor(
    private readonly rules: readonly CompiledRule[],
    private readonly fallback: Verdict,
    private readonly adminFallback: Verdict,
    private readonly catalog: PolicyCatalog,
  ) {}

  /** Deny if a deny rule matches any of `denyNames`; allow if allow rules match every one of `allowNames`; else the fallback. */
  verdict(part: Part, denyNames: readonly string[], allowNames: readonly string[]): Verdict {
    for (const name of denyNames) {
      const denied = this.denial(part, name);
      if (denied) return denied;
    }
    let allowed = allowNames.length > 0;
    for (const name of allowNames) {
      if (!this.rules.some((r) => r.effect === 'allow' && r.names[part].matches(name))) allowed = false;
    }
    if (allowed) return undefined;
    return part === 'admin' ? this.adminFallback : this.fallback;
  }

  private freshTools(): void {
    const tools = this.catalog.listTools();
    if (tools === this.tools) return;
    this.tools = tools;
    this.toolVerdicts.clear();
    this.listedTools = tools.filter((t) => this.toolVerdict(t.name) === undefined);
  }

  private freshPrompts(): void {
    const prompts = this.catalog.listPrompts();
    if (prompts === this.prompts) return;
    this.prompts = prompts;
    this.promptVerdicts.clear();
    this.listedPrompts = prompts.filter((p) => this.promptVerdict(p.name) === undefined);
  }

  /** A tool's verdict: its public name and the names of all its replicas; admin tools need the admin operation too. */
  toolVerdict(name: string): Verdict {
    this.freshTools();
    if (this.toolVerdicts.has(name)) return this.toolVerdicts.get(name);
    const qualified = this.catalog.qualifiedToolNames(name);
    const verdict = this.verdict('tools', qualified ? [name, ...qualified] : [name], qualified ?? [name]) ?? this.adminVerdict(qualified ?? [name]);
    // Only listed names are remembered: names a client invents cannot grow the map.
    if (qualified) this.toolVerdicts.set(name, verdict);
    return verdict;
  }

  private adminVerdict(qualified: readonly string[]): Verdict {
    for (const name of qualified) {
      const operation = ADMIN_TOOLS.get(name);
      if (operation) return this.verdict('admin', [operation], [operation]);
    }
    return undefined;
  }

  promptVerdict(name: string): Verdict {
    this.freshPrompts();
    if (this.promptVerdicts.has(name)) return this.promptVerdicts.get(name);
    const qualified = this.catalog.qualifiedPromptNames(name);
    const verdict = this.verdict('prompts', qualified ? [name, ...qualified] : [name], qualified ?? [name]);
    if (qualified) this.promptVerdicts.set(name, verdict);
    return verdict;
  }

  /** A URI is judged as written and as a URL parser resolves it ("/data/../etc" is "/etc", "%2e%2e" is ".."). */
  resourceVerdict(uri: string): Verdict {
    const resolved = URL.canParse(uri) ? new URL(uri).href : uri;
    const names = resolved === uri ? [uri] : [uri, resolved];
    return this.verdict('resources', names, names);
  }

  /** The first deny rule of `part` that matches `name`, as a verdict. */
  private denial(part: Part, name: string): Verdict {
    for (const rule of this.rules) if (rule.effect === 'deny' && rule.names[part].matchesFolded(name)) return `denied by [[authorization.rules]] #${rule.number}`;
    return undefined;
  }

  /** The MCP endpoint is open unless a rule denies it: what it serves is judged by the tool, resource and prompt rules. */
  routeVerdict(route: string): Verdict {
    if (this.routeVerdicts.has(route)) return this.routeVerdicts.get(route);
    const verdict = this.judgeRoute(route);
    this.routeVerdicts.set(route, verdict);
    return verdict;
  }

  private judgeRoute(route: string): Verdict {
    if (MCP_ROUTES.has(route)) return this.denial('routes', route);
    const verdict = this.verdict('routes', [route], [route]);
    const operation = ADMIN_ROUTES.get(route);
    return verdict ?? (operation ? this.verdict('admin', [operation], [operation]) : undefined);
  }

  listTools(): Tool[] {
    this.freshTools();
    return this.listedTools;
  }

  listPrompts(): Prompt[] {
    this.freshPrompts();
    return this.listedPrompts;
  }
}

export interface PolicyOptions {
  catalog: PolicyCatalog;
  /** Called on every denial (the audit log's hook). */
  onDenied?: DenialHook;
  /** Most principals whose applicable rules are remembered. */
  maxPrincipals?: number;
}

const NOUN: Record<Exclude<DenialKind, 'rate'>, string> = { tool: 'call tool', resource: 'use resource', prompt: 'use prompt', route: 'use', admin: 'run the admin operation' };

/** The compiled [authorization] of a gateway. */
export class Policy {
  /** Denials by principal and kind, for /metrics. */
  readonly denials = new LabelledCounter(['principal', 'kind'] as const);
  private readonly rules: readonly CompiledRule[];
  private readonly views = new Map<string, View>();
  private readonly viewOf: PerPrincipal<View>;

  constructor(
    private readonly settings: AuthorizationSettings,
    private readonly options: PolicyOptions,
  ) {
    this.rules = settings.rules.map(compileRule);
    this.viewOf = new PerPrincipal((p) => this.newView(p), options.maxPrincipals ?? 10_000);
  }

  private newView(principal: Principal): View {
    const applicable = this.rules.filter((r) => r.who.matches(principal));
    const local = principal.kind === 'local';
    const key = `${local ? 'L' : 'A'}:${applicable.map((r) => r.number).join(',')}`;
    let view = this.views.get(key);
    if (!view) {
      const fallback = local || this.settings.defaultEffect === 'allow' ? undefined : 'no rule allows it and authorization.default is "deny"';
      const adminFallback = local ? undefined : 'admin operations need a rule that allows them by name';
      view = new View(applicable, fallback, adminFallback, this.options.catalog);
      // One View per distinct set of applicable rules. Tokens with made-up scope combinations could ask
      // for many sets: past MAX_VIEWS the remembered ones are dropped (principals then build them again).
      if (this.views.size >= MAX_VIEWS) this.views.clear();
      this.views.set(key, view);
    }
    return view;
  }

  listTools(principal: Principal): Tool[] {
    return this.viewOf.get(principal).listTools();
  }

  listPrompts(principal: Principal): Prompt[] {
    return this.viewOf.get(principal).listPrompts();
  }

  listResources(principal: Principal, resources: Resource[]): Resource[] {
    const view = this.viewOf.get(principal);
    return resources.filter((r) => view.resourceVerdict(r.uri) === undefined);
  }

  listResourceTemplates(principal: Principal, templates: ResourceTemplate[]): ResourceTemplate[] {
    const view = this.viewOf.get(principal);
    return templates.filter((t) => view.resourceVerdict(t.uriTemplate) === undefined);
  }

  /** Throws (POLICY_DENIED) unless `principal` may call the tool. */
  checkTool(principal: Principal, name: string): void {
    const why = this.viewOf.get(principal).toolVerdict(name);
    if (why !== undefined) throw this.denied(principal, 'tool', name, why);
  }

  checkPrompt(principal: Principal, name: string): void {
    const why = this.viewOf.get(principal).promptVerdict(name);
    if (why !== undefined) throw this.denied(principal, 'prompt', name, why);
  }

  /** Reads, subscriptions and completions of a URI or URI template. */
  checkResource(principal: Principal, uri: string): void {
    const why = this.viewOf.get(principal).resourceVerdict(uri);
    if (why !== undefined) throw this.denied(principal, 'resource', uri, why);
  }

  /** Throws a 403 HttpRefusal unless `principal` may use the route ("METHOD /path"), and its admin operation if it is one. */
  checkRoute(principal: Principal, route: string): void {
    const why = this.viewOf.get(principal).routeVerdict(route);
    if (why === undefined) return;
    const operation = ADMIN_ROUTES.get(route);
    const kind = operation && this.viewOf.get(principal).verdict('routes', [route], [route]) === undefined ? 'admin' : 'route';
    throw new HttpRefusal(403, POLICY_DENIED, this.refusal(principal, kind, kind === 'admin' ? operation! : route, why));
  }

  private denied(principal: Principal, kind: Exclude<DenialKind, 'rate'>, name: string, reason: string): McpError {
    return new McpError(POLICY_DENIED, this.refusal(principal, kind, name, reason), { kind, name });
  }

  /** Counts and reports a denial; the sentence for the client. */
  private refusal(principal: Principal, kind: Exclude<DenialKind, 'rate'>, name: string, reason: string): string {
    this.denials.add({ principal: principal.id, kind });
    this.options.onDenied?.({ principal, kind, name, reason });
    return `Forbidden: principal "${principal.id}" may not ${NOUN[kind]} "${name}" on this gateway (its authorization rules). Ask the gateway's operator for access.`;
  }
}
