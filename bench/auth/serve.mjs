// The gateways the bench/auth scripts measure: `mcp-edge serve` started by
// the real CLI on a free port, and API keys made by the real CLI.
import { spawn } from 'node:child_process';

/**
 * Starts `node [nodeArgs] cli serve --config config` on 127.0.0.1:0 with its
 * database in `dataDir`. The child is returned at once (so that a caller can
 * stop it whatever happens); `url` resolves with its MCP URL once it listens,
 * and rejects if it exits first.
 * @param {{ cli: string, config: string, dataDir: string, label: string, nodeArgs?: string[] }} options
 */
export function spawnServe({ cli, config, dataDir, label, nodeArgs = [] }) {
  const child = spawn(process.execPath, [...nodeArgs, cli, 'serve', '--config', config, '--bind', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  /** @type {Promise<string>} */
  const url = new Promise((resolveUrl, reject) => {
    let seen = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk) => {
      seen += chunk;
      const match = seen.match(/listening \{"url":"([^"]+)"/);
      if (match) resolveUrl(/** @type {string} */ (match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code}: ${seen}`)));
  });
  return { child, url };
}

/**
 * An API key named `name`, made by `cli keys create` in `dataDir`.
 * @param {string} cli @param {string} dataDir @param {string} name
 */
export async function createKey(cli, dataDir, name) {
  const child = spawn(process.execPath, [cli, 'keys', 'create', name, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c) => (out += c));
  await new Promise((r) => child.once('close', r));
  return out.trim();
}
