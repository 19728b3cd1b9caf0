// docs/plugins.md's examples are run against the built package, and its
// configuration block is validated, so the page cannot drift from the code.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/index.js';
import { ROOT, tempDir } from './helpers/processes.js';
import { ALWAYS_ON_TOOLS } from './helpers/plugin-gateway.js';
import { docPage } from './helpers/docs.js';

const { example } = docPage('docs/plugins.md');
const scratch = tempDir('mcp-edge-docs-');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));


/** Runs a JS example as a module inside the repository, where `mcp-edge` is this package. */
function run(name: string): string {
  const dir = join(ROOT, 'target/docs-examples');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, example(name, 'js'));
  return execFileSync(process.execPath, [file], { env: { ...process.env, EXAMPLE_DATA_DIR: mkdtempSync(join(scratch, 'data-')) }, encoding: 'utf8', timeout: 20_000 });
}

describe('docs/plugins.md', () => {
  it('registers a tool through the npm API, calls it over MCP, and disables it', () => {
    const out = run('register-tool');
    expect(out).toMatch(/^word_count says 4$/m);
    expect(out).toContain(`\nlisted after disable: ${ALWAYS_ON_TOOLS.join(', ')}\n`);
  });

  it('bundles a plugin that starts disabled and is enabled by name', () => {
    expect(run('define-plugin').trim()).toBe('[{"name":"notes","enabled":true,"description":"A tiny note store."}]');
  });

  it('shows a configuration of the built-ins that the schema accepts', () => {
    const config = parseConfig(example('plugins-config', 'toml'), 'docs/plugins.md', {});
    expect(config.plugins.files).toMatchObject({ enabled: true, roots: ['/srv/shared', '/home/pi/notes'] });
    expect(config.plugins.sqlite).toMatchObject({ enabled: true, read_only: true, databases: { sensors: '/var/lib/sensors.db' } });
    expect(config.plugins.shell).toMatchObject({ enabled: true, commands: ['uptime', '/usr/bin/vcgencmd', { command: 'df', args: ['-h', '/**'] }], env: ['LANG', 'TZ'] });
  });

  it('leaves every built-in off by default', () => {
    const config = parseConfig('', 'empty', {});
    expect([config.plugins.files.enabled, config.plugins.sqlite.enabled, config.plugins.shell.enabled]).toEqual([false, false, false]);
  });
});
