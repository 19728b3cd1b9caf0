// scripts/check-imports.mjs, the import-cycle check that `npm test` runs on
// host/src, run as a real process on small trees: it must fail on a cycle of
// values and on a cycle of types alone, name the files of the loop in order,
// and pass a tree whose only "cycles" sit in comments and strings.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/processes.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = join(ROOT, 'scripts/check-imports.mjs');
const trees: string[] = [];

afterAll(() => {
  for (const tree of trees) rmSync(tree, { recursive: true, force: true });
});

/** Writes `files` (path -> text) into a fresh folder. */
function tree(files: Record<string, string>): string {
  const dir = tempDir('mcp-edge-imports-');
  trees.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function check(dir?: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...(dir ? [dir] : [])], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('check-imports', () => {
  it('fails on a cycle of value imports and prints it as a path', () => {
    const dir = tree({
      'a.ts': `import { b } from './b.js';\nexport const a = () => b;\n`,
      'b.ts': `import { c } from './sub/c.js';\nexport const b = c;\n`,
      'sub/c.ts': `import { a } from '../a.js';\nexport const c = a;\n`,
      'd.ts': `import { a } from './a.js';\nexport const d = a;\n`,
    });
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('1 import cycle(s)');
    expect(output).toContain('a.ts -> b.ts -> sub/c.ts -> a.ts');
    // d.ts imports into the loop but is not part of it.
    expect(output).not.toContain('d.ts');
  });

  it('fails on a cycle of types alone: import type and export ... from', () => {
    const dir = tree({
      'shapes.ts': `import type { Painter } from './painter.js';\nexport interface Shape { paint(p: Painter): void }\n`,
      'painter.ts': `export type { Shape } from './shapes.js';\nexport interface Painter { colour: string }\n`,
    });
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('painter.ts -> shapes.ts -> painter.ts');
  });

  it('fails on a file that imports itself', () => {
    const dir = tree({ 'self.ts': `export * from './self.js';\nexport const x = 1;\n` });
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('self.ts -> self.ts');
  });

  it('passes an acyclic tree whose import-shaped comments and strings would close loops', () => {
    const dir = tree({
      'a.ts': `import { b } from './b.js';\nimport { z } from 'zod';\nexport const a = [b, z];\n`,
      'b.ts': [
        `// import { a } from './a.js';`,
        `/* export * from './a.js'; */`,
        'export const b = "import { a } from \'./a.js\'";',
        'export const t = `export * from "./a.js"`;',
        '',
      ].join('\n'),
    });
    const { status, output } = check(dir);
    expect(output).toContain('no import cycle among 2 files');
    expect(status).toBe(0);
  });

  it('passes host/src, the tree npm test checks', () => {
    const { status, output } = check();
    expect(output).toContain('no import cycle');
    expect(status).toBe(0);
  });
});
