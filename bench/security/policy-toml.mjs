// The [authorization] and [rate_limits] sections the security benches turn
// on (bench/security/policy.mjs, bench/auth/run.mjs): 8 rules, of which the
// caller's API key or JWT matches a few, and buckets high enough to refuse
// nothing.
// A realistic policy: what docs/security.md shows, and a few more rules that do not match the caller.
export const POLICY_TOML = `
[authorization]
default = "deny"
[[authorization.rules]]
principals = ["kind:api-key", "kind:jwt"]
effect = "allow"
tools = ["count_tokens", "edge_compress", "plc__*"]
resources = ["mcp-edge://*"]
[[authorization.rules]]
principals = ["*"]
effect = "deny"
tools = ["plc__write_*", "shell_*", "db_*"]
[[authorization.rules]]
principals = ["scope:ops"]
effect = "allow"
tools = ["queue_*"]
routes = ["GET /metrics", "GET /v1/queue/*", "POST /v1/queue/sync"]
admin = ["queue_sync"]
[[authorization.rules]]
principals = ["key:ci-*"]
effect = "deny"
tools = ["edge_compress"]
[[authorization.rules]]
principals = ["jwt:https://idp.example|*"]
effect = "allow"
prompts = ["*"]
[[authorization.rules]]
principals = ["cert:*"]
effect = "allow"
tools = ["*"]
[[authorization.rules]]
principals = ["kind:api-key"]
effect = "deny"
resources = ["file:///etc/*"]
[[authorization.rules]]
principals = ["local:stdio"]
effect = "deny"
tools = ["count_tokens"]

[rate_limits]
default = { rate = 1000000, burst = 1000000 }
[[rate_limits.rules]]
principals = ["kind:api-key"]
tools = ["count_*"]
rate = 1000000
burst = 1000000
[[rate_limits.rules]]
principals = ["key:ci-*"]
tools = ["edge_compress"]
rate = 1
burst = 1
`;
