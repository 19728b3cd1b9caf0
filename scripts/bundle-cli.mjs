// Bundles the built CLI (host/dist/cli.js) with the packages every start loads
// into host/dist/cli.bundle.js: the MCP SDK, zod, ajv, zod-to-json-schema and
// smol-toml are ~270 of the ~460 modules a bare `mcp-edge serve` loads, and
// Node's ES module loader spends more on resolving, linking and evaluating
// that many files than on their code (bench/startup/README.md: less start time
// and ~20 MB less resident memory). host/bin/launch.js runs the bundle when it
// is at least as new as the tsc build, else host/dist/cli.js.
//
// What each start does not need stays out of the main file: the host's own
// dynamic imports become chunks beside it (cli.chunk-*.js), loaded when they
// were before; every other package stays in node_modules, loaded as before
// (native addons, OpenTelemetry, libp2p, undici, jose...). So does the
// component's jco output (core/generated/), rebuilt apart from the host; its
// copy in host/dist loses its blank space here (536 -> ~300 KB of source that
// V8 keeps for the process's life, and a smaller npm package; names kept, so
// stack traces read the same; host/src/core/generated keeps jco's text). Code
// that finds files next to itself (import.meta.url: the core's .wasm, worker
// scripts, package.json) is given the URL of its own file under host/dist.
//
//   node scripts/bundle-cli.mjs     (run by `npm run build` after tsc)
import { build, transform } from 'esbuild';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { root, timed } from './lib.mjs';

const DIST = join(root, 'host/dist');
const GENERATED = join(DIST, 'core/generated') + sep;
/** The jco bindings as tsc's build holds them. */
const BINDINGS = join(GENERATED, 'edge-core.js');
/** Packages inlined into the bundle: the ones every start loads. Any other bare import stays external. */
const INLINED = new Set(['@modelcontextprotocol/sdk', 'zod', 'ajv', 'ajv-formats', 'fast-uri', 'fast-deep-equal', 'json-schema-traverse', 'zod-to-json-schema', 'smol-toml']);

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. @param {string} specifier */
const packageOf = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

/** @type {import('esbuild').Plugin} */
const keepOutside = {
  name: 'keep-outside',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('node:') || !INLINED.has(packageOf(args.path)) ? { path: args.path, external: true } : undefined));
    // The jco output is loaded from its own folder, as tsc's build does (the bundle sits in host/dist).
    b.onResolve({ filter: /\/generated\/edge-core\.js$/ }, (args) => {
      const file = join(args.resolveDir, args.path);
      return file.startsWith(GENERATED) ? { path: './' + relative(DIST, file).split(sep).join('/'), external: true } : undefined;
    });
  },
};

/** Each host module's import.meta.url stays its own file's URL under host/dist. @type {import('esbuild').Plugin} */
const ownUrls = {
  name: 'own-urls',
  setup(b) {
    b.onLoad({ filter: /[\\/]host[\\/]dist[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const own = JSON.stringify('./' + relative(DIST, args.path).split(sep).join('/'));
      return { contents: text.replaceAll('import.meta.url', `new URL(${own}, import.meta.url).href`), loader: 'js' };
    });
  },
};

/**
 * zod's `z.locales` and `z.core.locales` (its 47 translated error-message sets, ~366 KB of source kept by V8 for as long as
 * the process lives) reduced to `en`, the one zod configures by default. Neither the host nor the SDK
 * reads z.locales (test/bundle-cli.test.ts checks); the unbundled build keeps them all.
 * @type {import('esbuild').Plugin}
 */
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](core|classic|mini)[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), '../locales/en-only.js'), namespace: 'zod-en' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/**
 * V8 keeps each module's source for as long as the process runs, one byte a character unless one
 * character is above U+00FF: then two bytes for all of them. esbuild escapes such characters in
 * code but keeps them in comments (an em dash in a zod comment doubled its 0.75 MB chunk), so
 * they are escaped there too; as \uXXXX they read the same in a comment, a string or a regex.
 * @param {string} file
 */
function keepLatin1(file) {
  const text = readFileSync(file, 'utf8');
  if (!/[^\u0000-\u00ff]/.test(text)) return;
  writeFileSync(file, text.replace(/[^\u0000-\u00ff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

export async function bundleCli() {
  for (const f of readdirSync(DIST)) if (f.startsWith('cli.bundle.') || f.startsWith('cli.chunk-')) rmSync(join(DIST, f));
  await build({
    entryPoints: { 'cli.bundle': join(DIST, 'cli.js') },
    outdir: DIST,
    chunkNames: 'cli.chunk-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // ajv is CommonJS: its require() of Node's modules needs one in the bundle's scope.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module';\nconst require = __bundleRequire(import.meta.url);" },
    plugins: [keepOutside, ownUrls, englishOnlyZod],
    logLevel: 'warning',
  });
  // In place (the bindings find the component's core modules next to themselves); again on an already lean copy, the same text.
  const lean = await transform(readFileSync(BINDINGS, 'utf8'), { minifyWhitespace: true, format: 'esm', platform: 'node', target: 'node22', logLevel: 'warning' });
  writeFileSync(BINDINGS, lean.code);
  keepLatin1(BINDINGS);
  for (const f of readdirSync(DIST)) if (f.startsWith('cli.bundle.') || f.startsWith('cli.chunk-')) keepLatin1(join(DIST, f));
}

if (import.meta.url === `file://${process.argv[1]}`) await timed('bundling the CLI (esbuild)', bundleCli);
