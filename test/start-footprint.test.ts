// What an idle `mcp-edge serve` on its defaults has not loaded: each of these
// was resident memory of every start for a feature the defaults do not use
// (bench/startup/README.md, "Idle footprint"). Read from Node's own list of the
// built-in modules the process loaded, written when the gateway exits.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServeCli, tempDir, waitForExit } from './helpers/processes.js';

/** Built-in modules (`NativeModule x`) a plain `mcp-edge serve` loaded from start to exit, with /health answered. */
async function builtinsOfAnIdleStart(): Promise<string[]> {
  const dir = tempDir('footprint-');
  const out = join(dir, 'builtins.json');
  const preload = join(dir, 'preload.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)));\n`);
  const { child, url } = await startServeCli([], { NODE_OPTIONS: `--require ${preload}` });
  const health = await fetch(new URL('/health', url));
  expect(health.status).toBe(200);
  child.kill('SIGTERM');
  await waitForExit(child);
  const list = JSON.parse(readFileSync(out, 'utf8')) as string[];
  return list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
}

describe('an idle gateway on its defaults', () => {
  it('has not loaded TLS: no HTTPS listener, no upstream with TLS settings of its own', async () => {
    const builtins = await builtinsOfAnIdleStart();
    expect(builtins).toContain('http');
    expect(builtins.filter((m) => /^(tls|https|_tls_wrap|_tls_common)$/.test(m))).toEqual([]);
  });
});
