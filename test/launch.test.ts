// host/bin/launch.js: where the compile cache lives, when the CLI runs from its
// start bundle, and the young generation held small during a start
// (bench/startup/README.md).
import { execFileSync } from 'node:child_process';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliModule, compileCacheDir } from '../host/bin/launch.js';
import { ROOT, tempDir } from './helpers/processes.js';

describe('the compile cache folder', () => {
  it('is NODE_COMPILE_CACHE, else the unit\'s CacheDirectory, else the XDG cache, else ~/.cache', () => {
    expect(compileCacheDir({ NODE_COMPILE_CACHE: '/n', CACHE_DIRECTORY: '/var/cache/mcp-edge', XDG_CACHE_HOME: '/x' })).toBe('/n');
    expect(compileCacheDir({ CACHE_DIRECTORY: '/var/cache/mcp-edge:/var/cache/other', XDG_CACHE_HOME: '/x' })).toBe('/var/cache/mcp-edge/compile');
    expect(compileCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/mcp-edge/compile');
    expect(compileCacheDir({})).toMatch(/\/\.cache\/mcp-edge\/compile$/);
  });
});

describe('the CLI module', () => {
  /** A build folder with the given files, each changed `age` seconds ago. */
  function dist(files: Record<string, number>): string {
    const dir = join(tempDir('launch-'), 'dist');
    mkdirSync(dir);
    const now = Date.now() / 1000;
    for (const [name, age] of Object.entries(files)) {
      writeFileSync(join(dir, name), '');
      utimesSync(join(dir, name), now - age, now - age);
    }
    return dir;
  }
  const url = (dir: string, file: string) => pathToFileURL(join(dir, file)).href;

  it('is the bundle when it is at least as new as tsc\'s build, or the package has no .tsbuildinfo', () => {
    const built = dist({ '.tsbuildinfo': 10, 'cli.js': 10, 'cli.bundle.js': 5 });
    expect(cliModule(built, {})).toBe(url(built, 'cli.bundle.js'));
    const packaged = dist({ 'cli.js': 10, 'cli.bundle.js': 10 });
    expect(cliModule(packaged, {})).toBe(url(packaged, 'cli.bundle.js'));
  });

  it('is tsc\'s build when tsc ran after the bundle, when there is no bundle, or with MCP_EDGE_NO_BUNDLE=1', () => {
    const stale = dist({ '.tsbuildinfo': 1, 'cli.js': 1, 'cli.bundle.js': 5 });
    expect(cliModule(stale, {})).toBe(url(stale, 'cli.js'));
    const unbundled = dist({ '.tsbuildinfo': 10, 'cli.js': 10 });
    expect(cliModule(unbundled, {})).toBe(url(unbundled, 'cli.js'));
    const built = dist({ '.tsbuildinfo': 10, 'cli.js': 10, 'cli.bundle.js': 5 });
    expect(cliModule(built, { MCP_EDGE_NO_BUNDLE: '1' })).toBe(url(built, 'cli.js'));
  });
});

describe('the young generation during a start', () => {
  /**
   * MB of V8's young generation (new space) in a fresh Node after it kept ~30 MB of small objects
   * alive, with holdYoungGeneration() held, then after its release and as much again.
   */
  function youngGenerationMb(nodeArgs: string[] = [], hold = true): { held: number; released: number } {
    const script = `
      import { getHeapSpaceStatistics } from 'node:v8';
      import { holdYoungGeneration } from ${JSON.stringify(pathToFileURL(join(ROOT, 'host/bin/launch.js')).href)};
      const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20;
      const keep = [];
      const allocate = () => { for (let i = 0; i < 3e5; i++) keep.push({ i, pair: [i, i + 1], text: 'x' + i }); };
      const release = ${hold} ? holdYoungGeneration() : () => {};
      allocate();
      const held = young();
      release();
      allocate();
      console.log(JSON.stringify({ held, released: young() }));`;
    return JSON.parse(execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { encoding: 'utf8' })) as { held: number; released: number };
  }

  it('stays at its initial size while held, and grows as V8 sizes it once released', () => {
    const free = youngGenerationMb([], false);
    const { held, released } = youngGenerationMb();
    expect(free.held).toBeGreaterThanOrEqual(16);
    expect(held).toBeLessThanOrEqual(2);
    expect(released).toBeGreaterThan(held);
  });

  it('is left to the command line when it sets the growth factor itself', () => {
    const { held } = youngGenerationMb(['--semi-space-growth-factor=4']);
    expect(held).toBeGreaterThanOrEqual(16);
  });
});
