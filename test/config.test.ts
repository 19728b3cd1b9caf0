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
    expect([config.models, config.security, config.telemetry]).toEqual([{}, {}, {}]);
    // [power] is implemented: normal mode, never asleep; throttle and GPU are absent (refused when set).
    expect(config.power).toEqual({ low_power_mode: false, sleep_on_idle_ms: 0 });
    expect(config.tokenizers).toEqual({});
  });

  it('refuses every key of the seed-004 sections that nothing implements yet, naming each ([telemetry] is implemented now)', () => {
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
attestation_required = true
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
    // [models], [telemetry], [power] low_power_mode and TPM attestation are implemented: their keys are accepted.
    expect(keys).toEqual([
      'power.cpu_throttle_percent',
    ]);
    expect(err.issues[0]).toMatch(/^power\.cpu_throttle_percent: not supported yet \(cpu_throttle_percent has no honest meaning yet: .*\); remove it from mcp-edge\.toml$/);
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

  it('takes an energy weight on an upstream (it counts in low power mode), 0 by default', () => {
    const config = validateConfig({ upstreams: [{ id: 'a', transport: 'stdio', command: 'x' }, { id: 'b', transport: 'stdio', command: 'y', energy: 2 }] });
    expect(config.upstreams.map((u) => u.energy)).toEqual([0, 2]);
  });

  it('refuses gpu_enabled with the reason: the local model runs on the CPU', () => {
    const err = refusal(() => validateConfig({ power: { gpu_enabled: true } }));
    expect(err.issues).toEqual([expect.stringMatching(/^power\.gpu_enabled: not supported yet \(the local model runs on the CPU: GPU offload is not wired/)]);
  });

  it('refuses power.auto without a threshold', () => {
    expect(() => validateConfig({ power: { auto: { sysfs_root: '/tmp' } } })).toThrowError(/power\.auto: set battery_below_percent or temperature_above_c/);
  });

  it('refuses the keys of the other transport on an upstream', () => {
    expect(() => validateConfig({ upstreams: [{ id: 'a', transport: 'stdio', command: 'x', url: 'http://127.0.0.1:1/mcp' }] })).toThrowError(
      /upstreams\.0\.url: url does not apply to a stdio upstream/,
    );
    expect(() => validateConfig({ upstreams: [{ id: 'a', transport: 'http', url: 'http://127.0.0.1:1/mcp', args: ['-v'], env: { A: '1' } }] })).toThrowError(
      /upstreams\.0\.args: args does not apply to a http upstream[\s\S]*upstreams\.0\.env: /,
    );
  });

  // Any scheme passed, and an upstream at ftp:// was retried for ever with the same error instead of refused at start.
  it('takes only http and https URLs for what the gateway sends HTTP requests to, naming the key', () => {
    const refused = (input: object) => refusal(() => validateConfig(input)).issues;
    expect(refused({ upstreams: [{ id: 'a', transport: 'http', url: 'ftp://127.0.0.1/mcp' }] })).toEqual(["upstreams.0.url: an upstream's url is an http:// or https:// URL"]);
    expect(refused({ upstreams: [{ id: 'a', transport: 'sse', url: 'file:///etc/passwd' }] })).toEqual(["upstreams.0.url: an upstream's url is an http:// or https:// URL"]);
    expect(refused({ offline: { destinations: { cloud: { url: 'ws://127.0.0.1:1/mcp' } } } })).toEqual(["offline.destinations.cloud.url: a destination's url is an http:// or https:// URL"]);
    expect(refused({ models: { cloud_endpoint: 'javascript:alert(1)' } })).toEqual(['models.cloud_endpoint: the cloud endpoint is an http:// or https:// URL']);
    expect(() => validateConfig({ upstreams: [{ id: 'a', transport: 'http', url: 'HTTPS://127.0.0.1/mcp' }], models: { cloud_endpoint: 'http://127.0.0.1:9/v1' } })).not.toThrow();
  });

  // Such a header was accepted, and every connection to the upstream failed on it, retried for ever.
  it("refuses an upstream header that could not be sent: a name that is not an HTTP token, a value with a line break", () => {
    const upstream = (headers: Record<string, string>) => ({ upstreams: [{ id: 'a', transport: 'http', url: 'http://127.0.0.1:1/mcp', headers }] });
    expect(refusal(() => validateConfig(upstream({ 'Bad Header': 'x', 'X-Split': 'a\r\nX-Injected: 1' }))).issues).toEqual([
      'upstreams.0.headers.Bad Header: header name "Bad Header" is not an HTTP token; it could not be sent',
      'upstreams.0.headers.X-Split: header "X-Split" holds a line break or NUL; it could not be sent',
    ]);
    expect(() => validateConfig(upstream({ Authorization: 'Bearer abc', 'X-Tenant_Id.v2': 'a b; c=d' }))).not.toThrow();
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

  it('accepts the TPM keys, and names a tpm_device that is not a TCTI it knows', () => {
    expect(validateConfig({ security: { use_tpm: true, tpm_device: 'swtpm:host=127.0.0.1,port=2321', tpm_pcrs: [0, 7] } }).security.tpm_pcrs).toEqual([0, 7]);
    const err = refusal(() => validateConfig({ security: { use_tpm: true, tpm_device: '/dev/tpmrm0' } }));
    expect(err.issues).toEqual([expect.stringMatching(/^security\.tpm_device: security\.tpm_device "\/dev\/tpmrm0" starts with .*use "device:\/dev\/tpmrm0"/)]);
    expect(() => validateConfig({ security: { tpm_pcrs: [23] } })).toThrowError(/security\.tpm_pcrs\.0/);
    expect(validateConfig({ security: { tpm_command_timeout_ms: 5000 } }).security.tpm_command_timeout_ms).toBe(5000);
    expect(() => validateConfig({ security: { tpm_command_timeout_ms: 10 } })).toThrowError(/security\.tpm_command_timeout_ms/);
    expect(validateConfig({ security: { attestation_required: true, attestation_policy: { code: ['AB'.repeat(32)], pcrs: { '7': 'cd'.repeat(32) } } } }).security.attestation_policy?.code).toEqual(['AB'.repeat(32)]);
    expect(() => validateConfig({ security: { attestation_policy: { code: ['abc'] } } })).toThrowError(/security\.attestation_policy\.code\.0/);
    expect(() => validateConfig({ security: { attestation_policy: { pcrs: { '24': 'cd'.repeat(32) } } } })).toThrowError(/security\.attestation_policy\.pcrs/);
  });

  it('names tokenizers that shadow a built-in encoding or are not names', () => {
    expect(() => validateConfig({ tokenizers: { cl100k_base: '/x.json' } })).toThrowError(/tokenizers\.cl100k_base: this name is a built-in tiktoken encoding/);
    expect(() => validateConfig({ tokenizers: { 'a b': '/x.json' } })).toThrowError(/tokenizers\.a b: use 1-64 of/);
  });

  it('takes a mesh destination only with the mesh on, and never beside a url or an upstream', () => {
    const key = { enabled: true, network_key_file: '/k' };
    const offline = { destinations: { peers: { mesh: true } }, deferrable_tools: { bump: 'peers' } };
    expect(validateConfig({ mesh: key, offline }).offline.destinations.peers?.mesh).toBe(true);
    expect(() => validateConfig({ offline })).toThrowError(/offline\.destinations\.peers\.mesh: a mesh destination needs the mesh: set mesh\.enabled = true/);
    expect(() => validateConfig({ mesh: key, offline: { destinations: { peers: { mesh: true, url: 'http://127.0.0.1:1/mcp' } } } })).toThrowError(/exactly one of url, upstream and mesh/);
    expect(() => validateConfig({ mesh: key, offline: { destinations: { peers: { mesh: false } } } })).toThrowError(/exactly one of url, upstream and mesh/);
  });

  it('checks the offload keys of [mesh]: patterns, fan-out names, modes and quorums', () => {
    const mesh = { enabled: true, open: true };
    const fanOut = (entries: unknown[]) => validateConfig({ mesh: { ...mesh, fan_out: entries } }).mesh.fan_out;
    expect(fanOut([{ name: 'all_of_it', tool: 'count' }])).toEqual([{ name: 'all_of_it', tool: 'count', mode: 'all' }]);
    expect(() => fanOut([{ name: 'x', tool: 'count', mode: 'first', quorum: 2 }])).toThrowError(/mesh\.fan_out\.0\.quorum: quorum applies only to mode = "quorum"/);
    expect(() => fanOut([{ name: 'x', tool: 'x' }])).toThrowError(/a fan-out tool cannot run itself/);
    expect(() => fanOut([{ name: 'x', tool: 'a' }, { name: 'x', tool: 'b' }])).toThrowError(/mesh\.fan_out\.1\.name: fan-out tool "x" is defined twice/);
    expect(() => fanOut([{ name: 'x', tool: 'a' }, { name: 'y', tool: 'x' }])).toThrowError(/mesh\.fan_out\.1\.tool: "x" is a fan-out tool itself/);
    expect(() => fanOut([{ name: 'x', tool: 'a', mode: 'some' }])).toThrowError(/mesh\.fan_out\.0\.mode/);
    expect(() => validateConfig({ mesh: { ...mesh, prefer_remote: ['heavy_\\'] } })).toThrowError(/mesh\.prefer_remote\.0: a pattern cannot end with a lone/);
    expect(validateConfig({ mesh: { ...mesh, prefer_remote: ['heavy_*'], share_resources: ['file:///x'], share_prompts: ['p'] } }).mesh).toMatchObject({ prefer_remote: ['heavy_*'], share_resources: ['file:///x'], share_prompts: ['p'] });
  });
});
