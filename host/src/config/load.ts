// Reads mcp-edge.toml: TOML -> ${ENV} interpolation -> schema validation, with
// errors that name the file, the key and the problem.
import { readFile } from 'node:fs/promises';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { configSchema, type EdgeConfig, type EdgeConfigInput } from './schema.js';
import { unsupportedKeys } from './unsupported.js';

/** The configuration is unusable; `message` says where and what to do. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(message);
  }
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces ${NAME} and ${NAME:-default} in every string, depth-first. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(
        `${path.join('.') || 'value'}: environment variable ${name} is not set. ` +
          `Set it, or write \${${name}:-default} to give a default.`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateEnv(v, env, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = interpolateEnv(v, env, [...path, key]);
    return out;
  }
  return value;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.map(String).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    return `${key === '(top level)' ? '' : key + ': '}unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}`;
  }
  // A record's key (a name the user chose) failed its own check: say which check.
  if (issue.code === 'invalid_key') return `${key}: ${issue.issues.map((i) => i.message).join('; ')}`;
  return `${key}: ${issue.message}`;
}

/**
 * Validates an already-parsed config object (from TOML or the embedding API).
 * A value that is valid but sets a key nothing implements yet is refused too
 * (config/unsupported.ts), naming every such key.
 */
export function validateConfig(input: EdgeConfigInput | unknown, source = 'config'): EdgeConfig {
  // jitless: a config is parsed once, so zod's compiled fast path (generated code per object schema) would cost a
  // start ~10-15 ms and never pay back. Defaults are `prefault`s so that they are parsed in this same context.
  const result = configSchema.safeParse(input ?? {}, { jitless: true });
  if (!result.success) {
    const issues = result.error.issues.map(formatIssue);
    throw new ConfigError(`${source} is invalid:\n  - ${issues.join('\n  - ')}`, issues);
  }
  const refused = unsupportedKeys(result.data).map(({ key, reason }) => `${key}: not supported yet (${reason}); remove it from ${source}`);
  if (refused.length > 0) throw new ConfigError(`${source} sets what mcp-edge does not support yet:\n  - ${refused.join('\n  - ')}`, refused);
  return result.data;
}

/** Parses TOML text into a validated config. */
export function parseConfig(text: string, source: string, env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    throw new ConfigError(`${source} is not valid TOML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return validateConfig(interpolateEnv(raw, env), source);
  } catch (err) {
    if (err instanceof ConfigError && !err.message.startsWith(source)) throw new ConfigError(`${source}: ${err.message}`);
    throw err;
  }
}

/**
 * Loads a config file. With `required: false`, a missing file means the
 * embedded defaults; a file that exists but is wrong is always an error.
 */
export async function loadConfigFile(path: string, options: { required: boolean }): Promise<EdgeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !options.required) return validateConfig({});
    if (code === 'ENOENT') throw new ConfigError(`config file ${path} does not exist.`);
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  return parseConfig(text, path);
}
