// What the built-in plugins share: refusals with stable codes (so a client or a
// test can tell "outside the roots" from "timed out" without parsing prose), and
// confinement of paths to configured folders, symlinks resolved.
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ConfigError } from '../config/load.js';

export type RefusalCode =
  | 'outside_roots'
  | 'not_found'
  | 'not_a_file'
  | 'not_allowed'
  | 'invalid_argument'
  | 'write_refused'
  | 'invalid_sql'
  | 'timeout'
  | 'output_too_large'
  | 'failed';

/** A plugin declined a request; the message says what to do instead. */
export class Refusal extends Error {
  override readonly name = 'Refusal';
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** A built-in plugin's configuration cannot work (a folder that does not exist, ...); the CLI reports it like any config error. */
export class PluginConfigError extends ConfigError {
}

/** The tool result for a refusal: "code: message", flagged as an error. */
export function refusalResult(refusal: Refusal): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: `${refusal.code}: ${refusal.message}` }] };
}

/** Runs a handler, turning refusals into error results; other errors are bugs and propagate. */
export async function refusing(run: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof Refusal) return refusalResult(err);
    throw err;
  }
}

/** A successful result carrying the same data as text and as structuredContent. */
export function structured<T extends Record<string, unknown>>(data: T): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** Configured folders, resolved once to their real paths. */
export class Roots {
  private constructor(
    /** As configured, made absolute: what the lexical check compares against. */
    readonly given: readonly string[],
    /** Real paths (symlinks resolved): what the final check compares against. */
    readonly real: readonly string[],
  ) {}

  /** Resolves the folders; each must exist and be a directory. `key` names them in errors. */
  static async open(folders: readonly string[], key: string): Promise<Roots> {
    const given = folders.map((f) => resolve(f));
    const real: string[] = [];
    for (const folder of given) {
      const path = await realpath(folder).catch(() => {
        throw new PluginConfigError(`${key}: folder ${folder} does not exist; create it or remove it from the list.`);
      });
      if (!(await stat(path)).isDirectory()) throw new PluginConfigError(`${key}: ${folder} is not a folder.`);
      real.push(path);
    }
    return new Roots(given, real);
  }

  /** The folder that relative paths start from. */
  get first(): string {
    return this.real[0]!;
  }

  /** Whether a real path is one of the roots or inside one. */
  contains(realPath: string): boolean {
    return this.real.some((root) => isInside(root, realPath));
  }

  /**
   * Resolves a path from a client (absolute, or relative to the first root) to
   * a real path inside a root. Refuses traversal before touching the disk, so a
   * refusal never reveals whether something outside exists.
   */
  async resolve(path: string): Promise<string> {
    if (path.includes('\0')) throw new Refusal('not_allowed', 'Paths cannot contain NUL characters.');
    const absolute = resolve(this.first, path);
    const lexicallyInside = this.given.some((r) => isInside(r, absolute)) || this.real.some((r) => isInside(r, absolute));
    if (!lexicallyInside) throw this.outside(path);
    let real: string;
    try {
      real = await realpath(absolute);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Refusal('not_found', `${path} does not exist. Use file_search to find files.`);
      throw new Refusal('failed', `cannot resolve ${path}: ${(err as Error).message}`);
    }
    if (!this.contains(real)) throw this.outside(path, true);
    return real;
  }

  outside(path: string, viaLink = false): Refusal {
    const how = viaLink ? ' (it is a symbolic link, or inside one, that leads out)' : '';
    return new Refusal('outside_roots', `${path} is outside the allowed folders${how}. Allowed: ${this.real.join(', ')}.`);
  }
}
