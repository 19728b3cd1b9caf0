// mcp-edge.toml: defaults, ${ENV} interpolation, and errors that name the key.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, validateConfig } from '../host/src/config/load.js';

/** The ConfigError `run` throws. */
function refusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills every default from an empty file', () => {
    const config = parseConfig('', 'mcp-edge.toml');
    expect(config.gateway.bind_address).toBe('127.0.0.1:8080');
    expect(config.offline.compression).toBe('zstd');
    // Sections nothing implements yet hold no defaults that would pretend otherwise.
    expect([config.models, config.security, config.telemetry, config.power]).toEqual([{}, {}, {}, {}]);
    expect(config.tokenizers).toEqual({});
  });

  it('refuses every key of the seed-004 sections that nothing implements yet, naming each', () => {
    const text = `
[gateway]
bind_address = "0.0.0.0:9090"
max_connections = 50
request_timeout_ms = 5000
[models]
local_model = "phi-3-mini-q4"
cloud_endpoint = "https://api.example.com/v1/mcp"
cloud_api_key = "\${MCP_API_KEY}"
[offline]
queue_size = 500
compression = "lz4"
[security]
use_tpm = true
[telemetry]
enabled = true
endpoints = ["https://metrics.example.com/v1/edge"]
[power]
low_power_mode = true
cpu_throttle_percent = 50
`;
    const err = refusal(() => parseConfig(text, 'mcp-edge.toml', { MCP_API_KEY: 'sk-test' }));
    expect(err.message).toMatch(/^mcp-edge\.toml sets what mcp-edge does not support yet:/);
    const keys = err.issues.map((issue) => issue.split(':')[0]);
    expect(keys).toEqual([
      'models.local_model',
      'models.cloud_endpoint',
      'models.cloud_api_key',
      'security.use_tpm',
      'telemetry.enabled',
      'telemetry.endpoints',
      'power.low_power_mode',
      'power.cpu_throttle_percent',
    ]);
    expect(err.issues[0]).toBe('models.local_model: not supported yet (local and cloud models arrive with the hybrid inference work); remove it from mcp-edge.toml');
    expect(err.message).not.toContain('sk-test');
  });

  it('accepts the same sections with the refused keys left out', () => {
    const config = parseConfig('[gateway]\nmax_connections = 50\n[models]\n[security]\n[telemetry]\n[power]\n[offline]\nqueue_size = 500\n', 'f.toml');
    expect(config.gateway.max_connections).toBe(50);
    expect(config.offline.queue_size).toBe(500);
  });

  it('checks a refused key like any other before refusing it', () => {
    expect(() => parseConfig('[power]\ncpu_throttle_percent = 300\n', 'f.toml')).toThrowError(/f\.toml is invalid:\n {2}- power\.cpu_throttle_percent: /);
  });

  it('refuses an energy weight on an upstream: nothing sets power-saver mode', () => {
    const err = refusal(() => validateConfig({ upstreams: [{ id: 'a', transport: 'stdio', command: 'x' }, { id: 'b', transport: 'stdio', command: 'y', energy: 2 }] }));
    expect(err.issues).toEqual([expect.stringMatching(/^upstreams\.1\.energy: not supported yet \(energy weights count only in power-saver mode/)]);
  });

  it('refuses the keys of the other transport on an upstream', () => {
    expect(() => validateConfig({ upstreams: [{ id: 'a', transport: 'stdio', command: 'x', url: 'http://127.0.0.1:1/mcp' }] })).toThrowError(
      /upstreams\.0\.url: url does not apply to a stdio upstream/,
    );
    expect(() => validateConfig({ upstreams: [{ id: 'a', transport: 'http', url: 'http://127.0.0.1:1/mcp', args: ['-v'], env: { A: '1' } }] })).toThrowError(
      /upstreams\.0\.args: args does not apply to a http upstream[\s\S]*upstreams\.0\.env: /,
    );
  });

  it('validates its own output again unchanged (the CLI validates, then the gateway does)', () => {
    const once = parseConfig('[[upstreams]]\nid = "a"\ntransport = "stdio"\ncommand = "x"\n[tokenizers]\nllama = "t.json"\n', 'f.toml');
    expect(validateConfig(once)).toEqual(once);
  });

  it('uses ${NAME:-default} when the variable is unset', () => {
    const config = parseConfig('[gateway]\nbind_address = "127.0.0.1:${PORT:-9999}"', 'f.toml', {});
    expect(config.gateway.bind_address).toBe('127.0.0.1:9999');
  });

  it('names the key and the variable when an env var is missing', () => {
    expect(() => parseConfig('[models]\ncloud_api_key = "${NOPE_KEY}"', 'f.toml', {})).toThrowError(
      /f\.toml: models\.cloud_api_key: environment variable NOPE_KEY is not set/,
    );
  });

  it('names unknown keys, so typos do not pass silently', () => {
    expect(() => parseConfig('[gateway]\nbind_adress = "127.0.0.1:1"', 'f.toml')).toThrowError(/gateway: unknown key bind_adress/);
    expect(() => parseConfig('[gatway]\n', 'f.toml')).toThrowError(/unknown key gatway/);
  });

  it('reports every bad value at once, each with its key', () => {
    try {
      parseConfig('[power]\ncpu_throttle_percent = 300\n[offline]\ncompression = "gzip"', 'f.toml');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues.join('\n');
      expect(issues).toMatch(/power\.cpu_throttle_percent: /);
      expect(issues).toMatch(/offline\.compression: /);
    }
  });

  it('points at the line of a TOML syntax error', () => {
    expect(() => parseConfig('[gateway]\nbind_address = \n', 'f.toml')).toThrowError(/f\.toml is not valid TOML at line 2/);
  });

  it('refuses TPM settings instead of starting without attestation without a word', () => {
    const err = refusal(() => validateConfig({ security: { use_tpm: true, tpm_device: '/dev/tpmrm0' } }));
    expect(err.issues).toEqual([
      expect.stringMatching(/^security\.use_tpm: not supported yet \(TPM attestation is not implemented yet/),
      expect.stringMatching(/^security\.tpm_device: not supported yet/),
    ]);
  });

  it('names tokenizers that shadow a built-in encoding or are not names', () => {
    expect(() => validateConfig({ tokenizers: { cl100k_base: '/x.json' } })).toThrowError(/tokenizers\.cl100k_base: this name is a built-in tiktoken encoding/);
    expect(() => validateConfig({ tokenizers: { 'a b': '/x.json' } })).toThrowError(/tokenizers\.a b: use 1-64 of/);
  });
});
