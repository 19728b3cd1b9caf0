// The files plugin on real folders: search and read inside the roots, and every
// way out refused (.. traversal, absolute paths, symlinks to files and folders
// outside), over MCP from a real gateway.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ConfigError, type Gateway } from '../host/src/index.js';
import { call, connectClient, startGateway, textOf, withAlwaysOn } from './helpers/plugin-gateway.js';
import { tempDir } from './helpers/processes.js';

const base = tempDir('mcp-edge-files-');
const root = join(base, 'root');
const outside = join(base, 'outside');
let gateway: Gateway;
let client: Client;

beforeAll(async () => {
  mkdirSync(join(root, 'docs/deep'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'readme.md'), '# Edge\nThe gateway runs on a Pi.\n');
  writeFileSync(join(root, 'docs/guide.md'), 'Install it.\nThen configure the QUEUE size.\n');
  writeFileSync(join(root, 'docs/deep/notes.txt'), 'queue notes\n');
  writeFileSync(join(root, 'blob.bin'), Buffer.from([0, 1, 2, 255, 254]));
  writeFileSync(join(root, 'big.txt'), 'é'.repeat(3000)); // 6000 bytes of two-byte characters
  writeFileSync(join(outside, 'secret.txt'), 'the queue password');
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out.txt'));
  symlinkSync(outside, join(root, 'dir-out'));
  symlinkSync(join(root, 'readme.md'), join(root, 'link-in.md'));
  gateway = await startGateway({ plugins: { files: { enabled: true, roots: [root], max_read_bytes: 4096, max_results: 50 } } });
  client = await connectClient(gateway);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const paths = (result: Awaited<ReturnType<typeof call>>) =>
  (result.structuredContent as { matches: { path: string }[] }).matches.map((m) => m.path.slice(root.length + 1)).sort();

describe('files plugin', () => {
  it('is off unless enabled', async () => {
    const plain = await startGateway();
    expect(plain.tools.list().map((t) => t.name)).toEqual(withAlwaysOn());
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(withAlwaysOn('file_read', 'file_search'));
  });

  it('finds files by name glob, by path glob and by content', async () => {
    expect(paths(await call(client, 'file_search', { name: '*.md' }))).toEqual(['docs/guide.md', 'link-in.md', 'readme.md']);
    expect(paths(await call(client, 'file_search', { name: 'docs/**/*.{md,txt}' }))).toEqual(['docs/deep/notes.txt', 'docs/guide.md']);
    const byContent = await call(client, 'file_search', { contains: 'queue', ignore_case: true });
    expect(paths(byContent)).toEqual(['docs/deep/notes.txt', 'docs/guide.md']);
    const guide = (byContent.structuredContent as { matches: { path: string; line?: number; preview?: string }[] }).matches.find((m) => m.path.endsWith('guide.md'));
    expect(guide).toMatchObject({ line: 2, preview: 'Then configure the QUEUE size.' });
    expect(paths(await call(client, 'file_search', { contains: 'queue' }))).toEqual(['docs/deep/notes.txt']);
  });

  it('never reports what a symlink out of the roots leads to', async () => {
    const all = paths(await call(client, 'file_search', {}));
    expect(all).not.toContain('link-out.txt');
    expect(all.some((p) => p.startsWith('dir-out'))).toBe(false);
    expect(paths(await call(client, 'file_search', { contains: 'password' }))).toEqual([]);
  });

  it('stops at the result limit and says so', async () => {
    const result = await call(client, 'file_search', { max_results: 2 });
    expect(result.structuredContent).toMatchObject({ truncated: true, stopped: 'max_results' });
    expect(paths(result)).toHaveLength(2);
  });

  it('refuses a malformed glob with a typed error (regression: it was an internal error)', async () => {
    for (const name of ['{md,txt', '[z-a].md']) {
      const result = await call(client, 'file_search', { name });
      expect(result.isError, name).toBe(true);
      expect(textOf(result)).toMatch(/^invalid_argument: name .* is not a valid glob/);
    }
  });

  it('stops after max_scanned_entries directory entries and says so', async () => {
    const small = await startGateway({ plugins: { files: { enabled: true, roots: [root], max_scanned_entries: 3 } } });
    const result = await call(await connectClient(small), 'file_search', { name: '*.txt' });
    expect(result.structuredContent).toMatchObject({ scanned: 3, truncated: true, stopped: 'max_scanned_entries' });
  });

  it('stops at the time limit and says so', async () => {
    const many = join(base, 'many');
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(many, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(many, `d${d}`, `f${f}.txt`), 'x');
    }
    const hasty = await startGateway({ plugins: { files: { enabled: true, roots: [many], search_timeout_ms: 1 } } });
    const result = await call(await connectClient(hasty), 'file_search', { contains: 'nothing like this' });
    expect(result.structuredContent).toMatchObject({ truncated: true, stopped: 'timeout', matches: [] });
    expect((result.structuredContent as { scanned: number }).scanned).toBeLessThan(2020);
  });

  it('reads text, binary as base64, and slices with offset and limit', async () => {
    expect((await call(client, 'file_read', { path: 'readme.md' })).structuredContent).toMatchObject({
      encoding: 'text',
      text: '# Edge\nThe gateway runs on a Pi.\n',
      truncated: false,
      path: join(root, 'readme.md'),
    });
    expect((await call(client, 'file_read', { path: join(root, 'blob.bin') })).structuredContent).toMatchObject({ encoding: 'base64', base64: 'AAEC//4=' });
    const slice = (await call(client, 'file_read', { path: 'docs/guide.md', offset: 5, max_bytes: 6 })).structuredContent;
    expect(slice).toMatchObject({ text: 'll it.', bytes: 6, truncated: true, size: 43 });
  });

  it('caps a read at max_read_bytes without splitting a character', async () => {
    const big = (await call(client, 'file_read', { path: 'big.txt', max_bytes: 1_000_000 })).structuredContent as { text: string; truncated: boolean; bytes: number };
    expect(big.truncated).toBe(true);
    expect(big.bytes).toBe(4096);
    expect(big.text).toBe('é'.repeat(2048));
    const odd = (await call(client, 'file_read', { path: 'big.txt', max_bytes: 5 })).structuredContent as { text: string };
    expect(odd.text).toBe('éé');
  });

  it('refuses .. traversal and absolute paths outside, without touching them', async () => {
    for (const path of ['../outside/secret.txt', join(outside, 'secret.txt'), '/etc/passwd', 'docs/../../outside/secret.txt', '../outside/nope.txt']) {
      const result = await call(client, 'file_read', { path });
      expect(result.isError, path).toBe(true);
      expect(textOf(result)).toMatch(/^outside_roots: .* is outside the allowed folders/);
    }
    const search = await call(client, 'file_search', { folder: '..' });
    expect(textOf(search)).toMatch(/^outside_roots:/);
    expect(textOf(await call(client, 'file_search', { folder: 'readme.md' }))).toMatch(/^not_a_file: readme\.md is a file, not a folder/);
  });

  it('refuses symlinks that lead out, to a file or through a folder', async () => {
    for (const path of ['link-out.txt', 'dir-out/secret.txt', join(root, 'dir-out/secret.txt')]) {
      const result = await call(client, 'file_read', { path });
      expect(result.isError, path).toBe(true);
      expect(textOf(result)).toMatch(/^outside_roots: .*symbolic link/);
    }
    expect((await call(client, 'file_read', { path: 'link-in.md' })).structuredContent).toMatchObject({ path: join(root, 'readme.md') });
  });

  it('says what is wrong with missing files, folders and special files', async () => {
    expect(textOf(await call(client, 'file_read', { path: 'missing.md' }))).toMatch(/^not_found: missing\.md does not exist/);
    expect(textOf(await call(client, 'file_read', { path: 'docs' }))).toMatch(/^not_a_file: docs is not a regular file/);
    execFileSync('mkfifo', [join(root, 'pipe')]);
    expect(textOf(await call(client, 'file_read', { path: 'pipe' }))).toMatch(/^not_a_file:/);
    expect(textOf(await call(client, 'file_read', { path: 'blob.bin', encoding: 'text' }))).toMatch(/^not_allowed: .*encoding "base64"/);
  });

  it('offers the roots and their files as resources, confined the same way', async () => {
    const rootUri = pathToFileURL(root).href;
    expect((await client.listResources()).resources.map((r) => r.uri).filter((u) => u.startsWith('file:'))).toEqual([rootUri]);
    expect((await client.readResource({ uri: rootUri })).contents[0]).toMatchObject({ text: expect.stringContaining('docs/') });
    const file = await client.readResource({ uri: pathToFileURL(join(root, 'readme.md')).href });
    expect(file.contents[0]).toMatchObject({ text: '# Edge\nThe gateway runs on a Pi.\n' });
    await expect(client.readResource({ uri: pathToFileURL(join(root, 'link-out.txt')).href })).rejects.toMatchObject({ code: -32002 });
    await expect(client.readResource({ uri: 'file:///etc/passwd' })).rejects.toThrow(/outside_roots/);
  });

  it('refuses to start with a root that does not exist', async () => {
    await expect(startGateway({ plugins: { files: { enabled: true, roots: [join(base, 'nope')] } } })).rejects.toThrow(ConfigError);
    await expect(startGateway({ plugins: { files: { enabled: true } } })).rejects.toThrow(/plugins\.files\.roots: list at least one folder/);
  });
});
