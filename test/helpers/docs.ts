// Documentation pages whose examples the tests run as written: an example is
// the fenced block that follows an `<!-- example: NAME ... -->` marker.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from './processes.js';

/** A page of the repository (e.g. "docs/security.md") and a way to take its examples. */
export function docPage(path: string): { text: string; example: (name: string, language: string) => string } {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const example = (name: string, language: string): string => {
    const marker = text.indexOf(`<!-- example: ${name} `);
    expect(marker, `${path} has no example "${name}"`).toBeGreaterThan(-1);
    const block = text.slice(marker).match(new RegExp('```' + language + '\\n([\\s\\S]*?)```'));
    expect(block, `${path}: the example "${name}" has no \`\`\`${language} block`).not.toBeNull();
    return block![1]!;
  };
  return { text, example };
}
