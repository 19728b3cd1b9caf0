// host/bin/launch.js: where the compile cache lives, and when the CLI runs
// from its start bundle (bench/startup/README.md).
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliModule, compileCacheDir } from '../host/bin/launch.js';
import { tempDir } from './helpers/processes.js';

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
