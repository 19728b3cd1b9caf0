// No key of mcp-edge.toml is silently ignored: every key of the schema is read
// when the config is resolved into the gateway's options (config/resolve.ts),
// or refused as not supported yet (config/unsupported.ts). "Read" is observed,
// not grepped: configs that set every key (with every enum, boolean and union
// option) are resolved through Proxies that record each key read.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { resolveSettings } from '../host/src/config/resolve.js';
import { configSchema, gatewaySchema } from '../host/src/config/schema.js';
import { unsupportedKeys } from '../host/src/config/unsupported.js';
import { pathsRead, populatedConfigs, schemaPaths, unaccountedKeys, type Accounting } from './helpers/config-walk.js';

const gateway: Accounting = { resolve: resolveSettings, refused: unsupportedKeys };

describe('every key of the config schema', () => {
  it('is walked, nested objects, records and arrays included', () => {
    const paths = schemaPaths(configSchema);
    expect(paths).toEqual(
      expect.arrayContaining([
        'gateway.bind_address',
        'upstreams[].restart.max_restarts',
        'upstreams[].energy',
        'offline.destinations.*.url',
        'offline.persistence_path',
        'plugins.shell.commands[].command',
        'plugins.sqlite.databases',
        'tokenizers',
        'models.local_model',
      ]),
    );
    expect(paths.length).toBeGreaterThan(100);
  });

  it('is read by the config resolution or refused as not supported yet', () => {
    expect(unaccountedKeys(configSchema, gateway)).toEqual([]);
  });

  it('is refused only by the refusal: without it, the unsupported keys are reported', () => {
    const unaccounted = unaccountedKeys(configSchema, { ...gateway, refused: () => [] });
    expect(unaccounted).toEqual(expect.arrayContaining(['power.gpu_enabled', 'power.cpu_throttle_percent']));
    for (const implemented of ['power.low_power_mode', 'upstreams[].energy', 'models.local_model', 'security.use_tpm', 'telemetry.endpoints']) expect(unaccounted).not.toContain(implemented);
    expect(unaccounted).not.toContain('offline.persistence_path');
  });

  it('reports a key that is neither read nor refused', () => {
    const withColour = z.object({ ...configSchema.shape, gateway: gatewaySchema.extend({ colour: z.string().optional() }) });
    expect(unaccountedKeys(withColour, gateway)).toEqual(['gateway.colour']);
  });

  it('counts a key read only on one branch (a stdio upstream reads command, an http one url)', () => {
    const reads = populatedConfigs(configSchema).map((config) => pathsRead(configSchema, config, resolveSettings));
    const readBy = (path: string) => reads.filter((r) => r.has(path)).length;
    expect(readBy('upstreams[].command')).toBeGreaterThan(0);
    expect(readBy('upstreams[].url')).toBeGreaterThan(0);
    expect(readBy('upstreams[].command')).toBeLessThan(reads.length);
    // A disabled plugin's section is not read at all; an enabled one is, whole.
    expect(readBy('plugins.files.max_read_bytes')).toBeLessThan(reads.length);
  });
});
