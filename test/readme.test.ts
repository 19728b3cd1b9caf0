// The README's examples are run, so the docs cannot drift from the code.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/processes.js';

/** The fenced code block that follows `<!-- example: NAME ... -->` in the README. */
function readmeExample(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf(`<!-- example: ${name}`);
  expect(marker, `README has no example "${name}"`).toBeGreaterThan(-1);
  const block = readme.slice(marker).match(/```js\n([\s\S]*?)```/);
  expect(block).not.toBeNull();
  return block![1]!;
}

describe('README', () => {
  it('runs the embedding example against the built package', () => {
    // Inside the repository, `import 'mcp-edge'` resolves to this package itself.
    const dir = join(ROOT, 'target/readme-examples');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'embedding.mjs');
    writeFileSync(file, readmeExample('embedding'));
    const out = execFileSync(process.execPath, [file], {
      env: { ...process.env, EXAMPLE_DATA_DIR: tempDir() },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out).toMatch(/^serving MCP at http:\/\/127\.0\.0\.1:\d+\/mcp$/m);
    expect(out).toMatch(/^core 0\.1\.0, features: simd128/m);
    expect(out).toMatch(/^framed 5 bytes into 16$/m); // 11-byte v2 header + 5
  });
});
