// docs/operations.md's configuration blocks are what the schema accepts, with
// the values the page says they have; its client table is the one
// `mcp-edge connect` uses.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/index.js';
import { resolveSettings } from '../host/src/config/resolve.js';
import { CLIENT_SPECS, CLIENTS } from '../host/src/ops/clients.js';
import { docPage } from './helpers/docs.js';

const { text, example } = docPage('docs/operations.md');

describe('docs/operations.md', () => {
  it('shows an [analytics] block with the defaults', () => {
    const config = parseConfig(example('analytics-config', 'toml'), 'docs/operations.md', {});
    expect(config.analytics).toEqual(parseConfig('', 'empty.toml', {}).analytics);
  });

  it('shows a [telemetry] block the gateway accepts, with the default bound', () => {
    const settings = resolveSettings(parseConfig(example('telemetry-config', 'toml'), 'docs/operations.md', {}));
    expect(settings.ops.telemetry).toMatchObject({ enabled: true, endpoints: ['http://127.0.0.1:4318'], exportIntervalMs: 10_000, algorithm: 'lz4' });
    expect(settings.ops.telemetry.bufferMaxBytes).toBe(resolveSettings(parseConfig('', 'empty.toml', {})).ops.telemetry.bufferMaxBytes);
  });

  it('shows a [log] block the gateway accepts', () => {
    const settings = resolveSettings(parseConfig(example('log-config', 'toml'), 'docs/operations.md', {}));
    expect(settings.ops.log).toEqual({ level: 'info', format: 'json' });
  });

  it('lists every client mcp-edge connect knows, with the file it writes on Linux', () => {
    for (const client of CLIENTS) {
      const file = CLIENT_SPECS[client].file({ HOME: '~' }, 'linux');
      expect(text, client).toContain(`| \`${client}\` | \`${file}`);
    }
  });
});
