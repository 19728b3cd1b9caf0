// The files plugin: file_search and file_read over configured folders, and each
// file below them as a file:// resource. Every path is resolved to its real
// path and refused when it leaves the folders; a read re-checks the file it
// actually opened, so swapping a symlink in after the check gains nothing.
import { constants } from 'node:fs';
import { open, readdir, readlink, stat, type FileHandle } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { PluginSettings } from '../config/resolve.js';
import { definePlugin, type Plugin } from '../providers/local/provider.js';
import { ResourceNotFoundError } from '../providers/local/resources.js';
import { defineTool } from '../tools/registry.js';
import { Refusal, refusing, Roots, structured } from './common.js';
import { globToRegExp, searchFiles } from './file-search.js';

/** The plugin's section of mcp-edge.toml, validated (config/resolve.ts passes it whole). */
type FilesConfig = NonNullable<PluginSettings['files']>;

const searchInput = z.object({
  name: z.string().min(1).max(512).optional().describe('Glob for file names ("*.md") or, with a "/", for paths below the folder ("src/**/*.ts").'),
  contains: z.string().min(1).max(4096).optional().describe('Text the file must contain (files that look binary are skipped).'),
  ignore_case: z.boolean().default(false).describe('Match `contains` regardless of case.'),
  folder: z.string().min(1).optional().describe('Search only below this folder (inside the allowed folders); all of them when absent.'),
  max_results: z.number().int().min(1).optional().describe('Fewer results than the configured limit.'),
});

const searchOutput = z.object({
  matches: z.array(z.object({ path: z.string(), size: z.number(), line: z.number().optional(), preview: z.string().optional() })),
  scanned: z.number(),
  truncated: z.boolean(),
  stopped: z.enum(['max_results', 'max_scanned_entries', 'timeout', 'cancelled']).optional(),
});

const readInput = z.object({
  path: z.string().min(1).max(4096).describe('Absolute path, or relative to the first allowed folder.'),
  offset: z.number().int().min(0).default(0).describe('Byte to start at.'),
  max_bytes: z.number().int().min(1).optional().describe('Fewer bytes than the configured limit.'),
  encoding: z.enum(['auto', 'text', 'base64']).default('auto').describe('auto: text when the bytes are UTF-8, else base64.'),
});

const readOutput = z.object({
  path: z.string(),
  size: z.number(),
  offset: z.number(),
  bytes: z.number(),
  truncated: z.boolean(),
  encoding: z.enum(['text', 'base64']),
  text: z.string().optional(),
  base64: z.string().optional(),
});

/** Opens a real path for reading, without following a final symlink, and checks what was opened. */
async function openConfined(roots: Roots, real: string, shown: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw roots.outside(shown, true);
    throw new Refusal('failed', `cannot open ${shown}: ${(err as Error).message}`);
  }
  // Linux names the file behind a descriptor: the last word on where it really is.
  const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => real);
  if (!roots.contains(opened)) {
    await handle.close();
    throw roots.outside(shown, true);
  }
  return handle;
}

/** UTF-8 text if the bytes are text (a cut multi-byte character at the end is dropped), else undefined. */
function asText(bytes: Buffer, truncated: boolean): string | undefined {
  if (bytes.includes(0)) return undefined;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let cut = 0; cut <= (truncated ? 3 : 0) && cut <= bytes.length; cut++) {
    try {
      return decoder.decode(bytes.subarray(0, bytes.length - cut));
    } catch {
      // try one byte shorter: the slice may end inside a character
    }
  }
  return undefined;
}

interface Slice {
  size: number;
  bytes: Buffer;
  truncated: boolean;
}

async function readSlice(roots: Roots, path: string, offset: number, maxBytes: number): Promise<Slice & { real: string }> {
  const real = await roots.resolve(path);
  const handle = await openConfined(roots, real, path);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Refusal('not_a_file', `${path} is not a regular file. Use file_search to list a folder's files.`);
    const length = Math.max(0, Math.min(maxBytes, info.size - offset));
    const bytes = Buffer.alloc(length);
    const { bytesRead } = await handle.read(bytes, 0, length, offset);
    return { real, size: info.size, bytes: bytes.subarray(0, bytesRead), truncated: offset + bytesRead < info.size };
  } finally {
    await handle.close();
  }
}

function readTool(roots: Roots, config: FilesConfig) {
  return defineTool({
    name: 'file_read',
    title: 'Read a file',
    description: `Reads up to ${config.max_read_bytes} bytes of a file inside the allowed folders (${roots.real.join(', ')}), as text or base64.`,
    input: readInput,
    output: readOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: (args) =>
      refusing(async () => {
        const limit = Math.min(args.max_bytes ?? config.max_read_bytes, config.max_read_bytes);
        const slice = await readSlice(roots, args.path, args.offset, limit);
        const text = args.encoding === 'base64' ? undefined : asText(slice.bytes, slice.truncated);
        if (args.encoding === 'text' && text === undefined) {
          throw new Refusal('not_allowed', `${args.path} is not UTF-8 text; read it with encoding "base64".`);
        }
        const common = { path: slice.real, size: slice.size, offset: args.offset, truncated: slice.truncated };
        return text === undefined
          ? structured({ ...common, bytes: slice.bytes.length, encoding: 'base64' as const, base64: slice.bytes.toString('base64') })
          : structured({ ...common, bytes: Buffer.byteLength(text), encoding: 'text' as const, text });
      }),
  });
}

async function folderInside(roots: Roots, folder: string): Promise<string> {
  const real = await roots.resolve(folder);
  if (!(await stat(real)).isDirectory()) throw new Refusal('not_a_file', `${folder} is a file, not a folder; search its folder, or read it with file_read.`);
  return real;
}

function checkGlob(glob: string): void {
  try {
    globToRegExp(glob);
  } catch (err) {
    throw new Refusal('invalid_argument', `name ${JSON.stringify(glob)} is not a valid glob (${(err as Error).message}). Use *, **, ?, [a-z] and {a,b}.`);
  }
}

function searchTool(roots: Roots, config: FilesConfig) {
  return defineTool({
    name: 'file_search',
    title: 'Find files',
    description:
      `Finds files by name glob and/or contained text inside the allowed folders (${roots.real.join(', ')}). ` +
      `At most ${config.max_results} results and ${config.search_timeout_ms} ms per search.`,
    input: searchInput,
    output: searchOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: (args, { signal }) =>
      refusing(async () => {
        if (args.name) checkGlob(args.name);
        const starts = args.folder ? [await folderInside(roots, args.folder)] : [...roots.real];
        const outcome = await searchFiles(
          roots,
          { starts, ...(args.name ? { name: args.name } : {}), ...(args.contains ? { contains: args.contains } : {}), ignoreCase: args.ignore_case },
          {
            maxResults: Math.min(args.max_results ?? config.max_results, config.max_results),
            maxScannedEntries: config.max_scanned_entries,
            maxFileBytes: config.max_search_file_bytes,
            deadline: Date.now() + config.search_timeout_ms,
            signal,
          },
        );
        return structured({ ...outcome, truncated: outcome.stopped !== undefined });
      }),
  });
}

/** file://{+path}: any file below the folders, read whole up to max_read_bytes. */
async function readFileResource(roots: Roots, config: FilesConfig, uri: URL): Promise<ReadResourceResult> {
  try {
    const path = fileURLToPath(uri);
    const slice = await readSlice(roots, path, 0, config.max_read_bytes);
    if (slice.truncated) throw new Refusal('output_too_large', `${path} is larger than ${config.max_read_bytes} bytes; read it in parts with file_read.`);
    const text = asText(slice.bytes, false);
    return { contents: [text === undefined ? { uri: uri.href, blob: slice.bytes.toString('base64') } : { uri: uri.href, mimeType: 'text/plain', text }] };
  } catch (err) {
    if (err instanceof Refusal) throw new ResourceNotFoundError(uri.href, `${err.code}: ${err.message}`);
    if (err instanceof TypeError) throw new ResourceNotFoundError(uri.href, 'it is not a local file URL.');
    throw err;
  }
}

/** Each root as a resource whose contents are its top-level entries. */
async function listRoot(root: string, config: FilesConfig): Promise<ReadResourceResult> {
  const entries = await readdir(root, { withFileTypes: true });
  const listing = entries.slice(0, config.max_results).map((e) => `${e.name}${e.isDirectory() ? '/' : ''}`);
  const uri = pathToFileURL(root).href;
  return { contents: [{ uri, mimeType: 'text/plain', text: listing.join('\n') }] };
}

/** Builds the plugin; the folders must exist. */
export async function filesPlugin(config: FilesConfig): Promise<Plugin> {
  const roots = await Roots.open(config.roots, 'plugins.files.roots');
  return definePlugin({
    name: 'files',
    description: 'Find and read files in configured folders.',
    tools: [searchTool(roots, config), readTool(roots, config)],
    resources: roots.real.map((root) => ({
      uri: pathToFileURL(root).href,
      name: `root:${root}`,
      description: `Allowed folder ${root}; its contents list its top-level entries.`,
      mimeType: 'text/plain',
      read: () => listRoot(root, config),
    })),
    resourceTemplates: [
      {
        uriTemplate: 'file://{+path}',
        name: 'file',
        description: 'A file inside the allowed folders, e.g. file:///srv/data/notes.md.',
        read: (uri) => readFileResource(roots, config, uri),
      },
    ],
  });
}
