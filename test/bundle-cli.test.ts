// scripts/bundle-cli.mjs: the start bundle keeps V8's copies of its sources
// small (bench/startup/README.md): one byte a character, zod with its
// English messages only, the core's bindings (host/dist's copy) without blank space. Reads the build in host/dist (`npm run build`).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/processes.js';

const DIST = join(ROOT, 'host/dist');
const bundleFiles = () => readdirSync(DIST).filter((f) => f.startsWith('cli.bundle.') || f.startsWith('cli.chunk-'));

/** Every .js file under `dir`, recursively. @param {string} dir */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => join(e.parentPath, e.name));
}

describe('the start bundle', () => {
  it('has no character above U+00FF, so V8 keeps each source one byte a character', () => {
    const files = bundleFiles();
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect(/[^\u0000-\u00ff]/.exec(readFileSync(join(DIST, f), 'utf8'))?.[0], f).toBeUndefined();
  });

  it('holds zod with its English messages only', () => {
    const zod = bundleFiles().map((f) => readFileSync(join(DIST, f), 'utf8')).filter((text) => text.includes('node_modules/zod/v4/core/'));
    expect(zod.length).toBeGreaterThan(0);
    const text = zod.join('\n');
    expect(text).toContain('node_modules/zod/v4/locales/en.js');
    expect(text).not.toContain('node_modules/zod/v4/locales/fr.js');
  });

  it("holds the core's jco bindings without their blank space: the same exports, a little over half of jco's text", async () => {
    const jco = join(ROOT, 'host/src/core/generated/edge-core.js');
    const lean = join(DIST, 'core/generated/edge-core.js');
    expect(readFileSync(lean, 'utf8').length).toBeLessThan(readFileSync(jco, 'utf8').length * 0.6);
    const [full, built] = await Promise.all([import(pathToFileURL(jco).href), import(pathToFileURL(lean).href)]);
    expect(Object.keys(built).sort()).toEqual(Object.keys(full).sort());
  });

  it('drops only what nothing reads: neither the host nor the MCP SDK uses zod\'s locales', () => {
    const readers = [...jsFiles(join(DIST)), ...jsFiles(join(ROOT, 'node_modules/@modelcontextprotocol/sdk/dist/esm'))]
      .filter((f) => !/[\\/]cli\.(bundle|chunk-)/.test(f))
      .filter((f) => /\blocales\s*\.|\blocales\s*\[|\{\s*locales\b/.test(readFileSync(f, 'utf8')));
    expect(readers).toEqual([]);
  });
});
