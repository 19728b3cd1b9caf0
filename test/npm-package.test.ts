// The npm package, tried as a new user would: `npm pack` of this clone, the
// tarball installed into an empty project by npm on a PATH with no Rust
// toolchain, and there `npx mcp-edge serve`, an ESM import, `tsc --strict`
// and the README's embedding example. The first run compiles the native
// addons (minutes); later runs reuse the installed project from
// ~/.cache/mcp-edge/npm-package/ (see helpers/npm-package.ts).
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installIntoEmptyProject, packClone, userEnv, type Packed } from './helpers/npm-package.js';
import { ROOT, tempDir, waitForOutput } from './helpers/processes.js';

/** What the package must never carry: sources of tests, benches, corpora, the Rust crates. */
const NOT_SHIPPED = [/^test\//, /^bench\//, /^crates\//, /corpus|corpora/i, /\.test\.[jt]s$/, /\.tsbuildinfo$/, /^host\/src\//];
/** The packed tarball stays small; a corpus or a model shipped by mistake breaks this. */
const MAX_PACKED_BYTES = 1_500_000;

const work = tempDir('mcp-edge-npm-package-');
const { env, calls } = userEnv(work);
let packed: Packed;
let project = '';
let serving: ChildProcess | undefined;

beforeAll(() => {
  packed = packClone(work);
  const installed = installIntoEmptyProject(packed.tarball, work, env);
  project = installed.project;
  console.log(
    `npm package: ${packed.tarball.split('/').pop()} ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.files.length} files` +
      ` (dependencies ${installed.fresh ? 'installed and compiled now' : 'from the cache'})`,
  );
}, 900_000);

afterAll(async () => {
  if (serving?.pid && serving.exitCode === null && serving.signalCode === null) {
    const exited = new Promise((resolve) => serving?.once('exit', resolve));
    process.kill(-serving.pid, 'SIGKILL'); // npx and the node it started: one process group
    await exited;
  }
});

/** The fenced js block that follows `<!-- example: NAME ... -->` in the README. */
function readmeExample(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = readme.slice(readme.indexOf(`<!-- example: ${name} `)).match(/```js\n([\s\S]*?)```/);
  if (!block) throw new Error(`README has no js example "${name}"`);
  return block[1]!;
}

const runNode = (file: string, extra: NodeJS.ProcessEnv = {}): string =>
  execFileSync(process.execPath, [file], { cwd: project, env: { ...env, ...extra }, encoding: 'utf8', timeout: 120_000 });

describe('the npm package', () => {
  it('ships the built host, the component and the CLI, and no tests, benches or corpora', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('host/bin/mcp-edge.js');
    expect(paths).toContain('host/dist/index.js');
    expect(paths).toContain('host/dist/index.d.ts');
    expect(paths).toContain('host/dist/core/generated/edge-core.core.wasm');
    expect(paths).toContain('README.md');
    expect(paths.filter((path) => NOT_SHIPPED.some((pattern) => pattern.test(path)))).toEqual([]);
    expect(packed.size).toBeLessThan(MAX_PACKED_BYTES);
  });

  it('installed with no Rust toolchain: npm never ran cargo or rustc', () => {
    expect(existsSync(join(project, 'node_modules/mcp-edge/host/dist/index.js'))).toBe(true);
    expect(existsSync(calls) ? readFileSync(calls, 'utf8') : '').toBe('');
  });

  it('`npx mcp-edge serve` answers /health with the core loaded', async () => {
    const data = join(work, 'serve-data');
    serving = spawn('npx', ['--no-install', 'mcp-edge', 'serve', '--bind', '127.0.0.1:0', '--data-dir', data], {
      cwd: project,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    const [, url] = await waitForOutput(serving.stderr, /listening \{"url":"([^"]+)"/, 30_000);
    const response = await fetch(new URL('/health', url));
    expect(response.status).toBe(200);
    const health = (await response.json()) as { status: string; core: { version: string; features: string[] } };
    expect(health.status).toBe('ok');
    expect(health.core.version).toBe('0.1.0');
    expect(health.core.features).toContain('simd128');
  }, 150_000);

  it("imports from 'mcp-edge' in ESM and calls the core", () => {
    const file = join(project, 'esm.mjs');
    writeFileSync(
      file,
      [
        "import { loadCore, countTokens, VERSION } from 'mcp-edge';",
        'const core = await loadCore();',
        "const frame = core.codec.pack(new TextEncoder().encode('hello'), { algorithm: 'stored' });",
        "console.log(JSON.stringify({ VERSION, frame: frame.length, tokens: await countTokens('hello world', { tokenizer: 'cl100k_base' }) }));",
      ].join('\n'),
    );
    expect(JSON.parse(runNode(file))).toEqual({ VERSION: '0.1.0', frame: 16, tokens: 2 });
  }, 150_000);

  it('resolves its types under tsc --strict (a wrong config is a type error)', () => {
    const dir = join(project, 'typed');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'main.ts'),
      [
        "import { createGateway, type GatewayOptions, type HealthReport } from 'mcp-edge';",
        "const options: GatewayOptions = { config: { gateway: { bind_address: '127.0.0.1:0' } } };",
        'const gateway = await createGateway(options);',
        'const health: HealthReport = gateway.health();',
        'const version: string = health.core.version;',
        'console.log(version);',
        '// @ts-expect-error bind_address is a string: the package types must say so',
        'await createGateway({ config: { gateway: { bind_address: 8080 } } });',
        'await gateway.close();',
      ].join('\n'),
    );
    const tsc = join(project, 'node_modules/typescript/bin/tsc');
    const args = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', 'main.ts'];
    // A non-zero exit throws with tsc's messages.
    const checked = spawnSync(process.execPath, [tsc, ...args], { cwd: dir, env, encoding: 'utf8', timeout: 240_000 });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
  }, 300_000);

  it("runs the README's embedding example", () => {
    const file = join(project, 'embedding.mjs');
    writeFileSync(file, readmeExample('embedding'));
    const out = runNode(file, { EXAMPLE_DATA_DIR: tempDir() });
    expect(out).toMatch(/^serving MCP at http:\/\/127\.0\.0\.1:\d+\/mcp$/m);
    expect(out).toMatch(/^core 0\.1\.0, features: simd128/m);
    expect(out).toMatch(/^framed 5 bytes into 16$/m);
  }, 150_000);

  it('works without its optional native engines (zstd-napi, lz4-napi): the component packs', () => {
    const file = join(project, 'codec.mjs');
    writeFileSync(
      file,
      [
        "import { createCodec } from 'mcp-edge';",
        'const codec = await createCodec();',
        "const data = new TextEncoder().encode('hello hello hello hello');",
        "const back = codec.unpack(codec.pack(data, { algorithm: 'zstd' }), { maxOutput: 1024 });",
        'console.log(JSON.stringify({ engine: codec.engine, roundTrip: new TextDecoder().decode(back) }));',
      ].join('\n'),
    );
    // With them (installed as optional dependencies where they build) the native engine packs.
    expect(JSON.parse(runNode(file))).toEqual({ engine: 'native', roundTrip: 'hello hello hello hello' });
    const optional = ['zstd-napi', 'lz4-napi'].map((name) => join(project, 'node_modules', name));
    for (const dir of optional) renameSync(dir, `${dir}.away`);
    try {
      expect(JSON.parse(runNode(file))).toEqual({ engine: 'component', roundTrip: 'hello hello hello hello' });
      const out = runNode(join(project, 'embedding.mjs'), { EXAMPLE_DATA_DIR: tempDir() });
      expect(out).toMatch(/^framed 5 bytes into 16$/m);
    } finally {
      for (const dir of optional) renameSync(`${dir}.away`, dir);
    }
  }, 300_000);
});
