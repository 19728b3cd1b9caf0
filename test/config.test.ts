// mcp-edge.toml: defaults, ${ENV} interpolation, and errors that name the key.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, validateConfig } from '../host/src/config/load.js';

describe('config', () => {
  it('fills every default from an empty file', () => {
    const config = parseConfig('', 'mcp-edge.toml');
    expect(config.gateway.bind_address).toBe('127.0.0.1:8080');
    expect(config.offline.compression).toBe('zstd');
    expect(config.telemetry.compression).toBe('lz4');
    expect(config.power.low_power_mode).toBe(false);
  });

  it('reads the seed-004 sections', () => {
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
    const config = parseConfig(text, 'mcp-edge.toml', { MCP_API_KEY: 'sk-test' });
    expect(config.models.cloud_api_key).toBe('sk-test');
    expect(config.gateway.max_connections).toBe(50);
    expect(config.power.cpu_throttle_percent).toBe(50);
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

  it('requires tls_cert and tls_key together', () => {
    expect(() => validateConfig({ security: { tls_cert: '/etc/c.pem' } })).toThrowError(/security\.tls_key: tls_cert and tls_key must be set together/);
  });
});
