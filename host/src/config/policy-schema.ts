// [authorization] and [rate_limits]: who may use which tools, resources,
// prompts, routes and admin operations, and how fast. The mechanisms are in
// security/policy.ts and security/rate-limit.ts; docs/security.md explains
// the order rules are evaluated in.
import { z } from 'zod';
import { globProblem } from '../security/glob.js';

/** The admin operations a rule can name in `admin` (each guards a tool and/or a route). */
export const ADMIN_OPERATIONS = ['queue_sync'] as const;

const KINDS = ['local', 'api-key', 'jwt', 'client-cert'];

const pattern = z.string().superRefine((p, ctx) => {
  const problem = globProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Who a rule is for: a principal id or id pattern ("key:ci", "key:ci-*",
 * "jwt:https://idp.example|alice", "cert:<sha256>", "local:loopback",
 * "local:stdio"), "scope:<scope>" (a scope its credential holds),
 * "kind:<local|api-key|jwt|client-cert>", or "*" (everyone).
 */
const principalSelector = z.string().superRefine((p, ctx) => {
  if (p.startsWith('kind:')) {
    if (!KINDS.includes(p.slice(5))) ctx.addIssue({ code: 'custom', message: `"${p}": the kinds are ${KINDS.map((k) => `kind:${k}`).join(', ')}` });
    return;
  }
  const body = p.startsWith('scope:') ? p.slice(6) : p;
  const problem = globProblem(body);
  if (problem) return ctx.addIssue({ code: 'custom', message: `"${p}": ${problem}` });
  if (!p.startsWith('scope:') && p !== '*' && !/^(local|key|jwt|cert):/.test(p)) {
    ctx.addIssue({ code: 'custom', message: `"${p}" names no principal: write a principal id ("key:<name>", "jwt:<issuer>|<subject>", "cert:<sha256>", "local:loopback", "local:stdio"), "scope:<scope>", "kind:<kind>" or "*"` });
  }
});

const principals = z.array(principalSelector).min(1, 'name at least one principal ("*" for everyone)');

export const authorizationRuleSchema = z
  .object({
    /** Who the rule is for; it applies when any entry matches the caller. */
    principals,
    /** What the rule does to the names it matches; a deny always wins over an allow. */
    effect: z.enum(['allow', 'deny']),
    /** Tool names: "<prefix><separator><tool>" for an upstream's tools whatever the listing shows, bare for the gateway's own and plugins'. */
    tools: z.array(pattern).default([]),
    /** Resource URIs (a read through a template is checked by the URI it reads). */
    resources: z.array(pattern).default([]),
    /** Prompt names, as tools. */
    prompts: z.array(pattern).default([]),
    /** HTTP routes as "METHOD /path", e.g. "GET /metrics", "POST /v1/queue/*". */
    routes: z.array(pattern).default([]),
    /** Admin operations (queue_sync); allowed to authenticated principals only by a rule that names them. */
    admin: z.array(pattern).default([]),
  })
  .strict()
  .refine((r) => r.tools.length + r.resources.length + r.prompts.length + r.routes.length + r.admin.length > 0, {
    message: 'the rule names nothing: give it tools, resources, prompts, routes or admin',
  });

export const authorizationSchema = z
  .object({
    /** What an authenticated principal gets when no rule matches: "allow" or "deny". Local principals (loopback, stdio) are allowed unless a rule denies them. */
    default: z.enum(['deny', 'allow']).default('deny'),
    /** Rules, all evaluated; order does not matter (deny wins). */
    rules: z.array(authorizationRuleSchema).default([]),
  })
  .strict();

const rate = z.number().positive().max(1_000_000);
const burst = z.number().int().min(1).max(1_000_000);

export const bucketSchema = z.object({ rate, burst }).strict();

export const rateLimitRuleSchema = z
  .object({
    principals,
    /** The tools whose calls the rule's bucket counts; without it, the rule replaces the default bucket of its principals. */
    tools: z.array(pattern).min(1).optional(),
    /** Calls per second the bucket refills by. */
    rate,
    /** Calls the bucket holds: how many may come at once after a quiet spell. */
    burst,
  })
  .strict();

export const rateLimitsSchema = z
  .object({
    /** Every principal's calls (tools/call, resources/read, prompts/get) together; no limit when absent. */
    default: bucketSchema.optional(),
    rules: z.array(rateLimitRuleSchema).default([]),
    /** Most buckets kept per limit; past it, full buckets (then the oldest) are forgotten, so rotating principals cannot grow memory. */
    max_tracked: z.number().int().min(16).max(1_000_000).default(10_000),
  })
  .strict();

export type AuthorizationConfig = z.infer<typeof authorizationSchema>;
export type RateLimitsConfig = z.infer<typeof rateLimitsSchema>;
