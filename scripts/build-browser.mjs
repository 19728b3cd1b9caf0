// Builds the browser / mobile web view package into target/platforms/browser/:
// one ESM bundle (platforms/browser/src with the core facade, the MCP SDK's
// client and idb, minified by esbuild), the component's .wasm files beside it,
// and its package.json. Prints the sizes, raw and gzipped.
//
//   node scripts/run.mjs browser      npm run build:browser
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { log, root } from './lib.mjs';

export const BROWSER_OUT = join(root, 'target/platforms/browser');
const GENERATED = join(root, 'host/src/core/generated');

/** Builds the package; returns each file's raw and gzipped bytes. */
export async function buildBrowser() {
  rmSync(BROWSER_OUT, { recursive: true, force: true });
  mkdirSync(BROWSER_OUT, { recursive: true });
  await build({
    entryPoints: [join(root, 'platforms/browser/src/index.js')],
    outfile: join(BROWSER_OUT, 'mcp-edge-browser.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    // The facade's Node file loader imports node:fs lazily; a browser passes its own compile and never reaches it.
    external: ['node:*'],
    logLevel: 'warning',
  });
  for (const name of readdirSync(GENERATED).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(GENERATED, name), join(BROWSER_OUT, name));
  copyFileSync(join(root, 'platforms/browser/package.json'), join(BROWSER_OUT, 'package.json'));
  const sizes = readdirSync(BROWSER_OUT)
    .filter((name) => name.endsWith('.js') || name.endsWith('.wasm'))
    .map((name) => ({ file: name, bytes: statSync(join(BROWSER_OUT, name)).size, gzip: gzipSync(readFileSync(join(BROWSER_OUT, name)), { level: 9 }).length }));
  const total = sizes.reduce((sum, s) => ({ bytes: sum.bytes + s.bytes, gzip: sum.gzip + s.gzip }), { bytes: 0, gzip: 0 });
  for (const s of sizes) log(`${s.file}: ${s.bytes} bytes, ${s.gzip} gzipped`);
  log(`${relative(root, BROWSER_OUT)}: ${total.bytes} bytes, ${total.gzip} gzipped`);
  return { files: sizes, total };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildBrowser();
