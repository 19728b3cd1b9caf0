// IBM's ContextForge gateway (PyPI mcp-contextforge-gateway) fronting the
// running fixture over Streamable HTTP, set up the way its docs describe:
// `mcpgateway` on SQLite, an admin JWT made with its own
// mcpgateway.utils.create_jwt_token, the fixture registered as a gateway
// (POST /gateways, transport STREAMABLEHTTP), a virtual server holding the
// fixture's test_simple_text (POST /servers), and clients on the server's
// endpoint /servers/ID/mcp with the token. Loopback upstreams need its SSRF
// guard told that 127.0.0.1 is allowed. Installed into a venv by
// bench/gateway/install-peers.sh, never at test time.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runToEnd, startProcess } from '../../test/conformance/lib/processes.mjs';
import { processTree } from './procstat.mjs';
import { freePort, PEERS } from './targets.mjs';

const VENV = join(PEERS, 'contextforge');
const SECRET = 'mcp-edge-bench-only-0123456789abcdef0123456789';
const ADMIN = 'admin@example.com';

/** @param {string} dir */
function environment(dir) {
  return {
    DATABASE_URL: `sqlite:///${join(dir, 'mcp.db')}`,
    JWT_SECRET_KEY: SECRET,
    PLATFORM_ADMIN_EMAIL: ADMIN,
    PLATFORM_ADMIN_PASSWORD: 'Bench-Only-Pass-12345',
    BASIC_AUTH_PASSWORD: 'Bench-Only-Pass-12345',
    MCPGATEWAY_UI_ENABLED: 'false',
    MCPGATEWAY_ADMIN_API_ENABLED: 'true',
    SSRF_ALLOW_LOCALHOST: 'true',
    SSRF_ALLOW_PRIVATE_NETWORKS: 'true',
    LOG_LEVEL: 'ERROR',
    // Its request rate limits (100 MCP requests a minute per user, then a lockout) are settings
    // its docs describe for production; a benchmark of 100 clients turns them off.
    RATE_LIMITING_ENABLED: 'false',
    RATE_LIMIT_LOCKOUT_ENABLED: 'false',
  };
}

/**
 * @param {string} url
 * @param {string} token
 * @param {unknown} [body]
 */
async function api(url, token, body) {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ContextForge ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Polls /health until it answers 200, or throws. @param {string} base */
async function waitHealthy(base, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`ContextForge did not answer ${base}/health within ${timeoutMs} ms`);
}

/**
 * @param {string} fixtureUrl  the running fixture's Streamable HTTP endpoint
 * @returns {Promise<import('./targets.mjs').BenchTarget & { headers: Record<string, string> }>}
 */
export async function startContextForge(fixtureUrl) {
  const bin = join(VENV, 'bin/mcpgateway');
  if (!existsSync(bin)) throw new Error(`ContextForge is not installed (${bin}); run bench/gateway/install-peers.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-bench-contextforge-'));
  const env = environment(dir);
  const port = await freePort();
  const proc = await startProcess(bin, ['--host', '127.0.0.1', '--port', String(port)], { env, cwd: dir, name: 'ContextForge' });
  const stop = async () => {
    const tree = proc.child.pid === undefined ? [] : processTree(proc.child.pid).slice(1);
    await proc.stop();
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base);
    const made = await runToEnd(join(VENV, 'bin/python'), ['-m', 'mcpgateway.utils.create_jwt_token', '--username', ADMIN, '--admin', '--exp', '600', '--secret', SECRET], { timeoutMs: 60_000, env, cwd: dir });
    const token = made.stdout.trim().split('\n').at(-1) ?? '';
    if (made.code !== 0 || !token) throw new Error(`ContextForge token: ${made.stderr.slice(-300)}`);
    await api(`${base}/gateways`, token, { name: 'conformance', url: fixtureUrl, transport: 'STREAMABLEHTTP' });
    /** @type {{ id: string; name: string }[]} */
    const tools = await api(`${base}/tools`, token);
    const tool = tools.find((t) => /test[-_]simple[-_]text$/.test(t.name));
    if (!tool) throw new Error(`ContextForge lists no test_simple_text among ${tools.map((t) => t.name).join(', ')}`);
    const server = await api(`${base}/servers`, token, { server: { name: 'bench', associated_tools: [tool.id] } });
    return {
      name: 'contextforge', url: `${base}/servers/${server.id}/mcp`, pid: proc.child.pid, stop, tool: tool.name,
      headers: { authorization: `Bearer ${token}` },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
