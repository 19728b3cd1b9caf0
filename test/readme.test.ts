// The README's examples are run, so the docs cannot drift from the code.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../host/src/config/load.js';
import { NOT_SUPPORTED_YET } from '../host/src/config/unsupported.js';
import { ROOT, tempDir } from './helpers/processes.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced code block that follows `<!-- example: NAME ... -->` in the README. */
function readmeExample(name: string, language = 'js'): string {
  const marker = readme.indexOf(`<!-- example: ${name} `);
  expect(marker, `README has no example "${name}"`).toBeGreaterThan(-1);
  const block = readme.slice(marker).match(new RegExp('```' + language + '\\n([\\s\\S]*?)```'));
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

  it('shows a Configure example that the gateway accepts: no key it would refuse', () => {
    const config = parseConfig(readmeExample('configure', 'toml'), 'README.md', {});
    expect(config.gateway.allowed_hosts).toEqual(['pi.local:8080']);
    expect(config.offline.persistence_path).toBe('/var/lib/mcp-edge/queue.db');
    expect(config.tokenizers).toEqual({ llama2: '/opt/models/llama2/tokenizer.json' });
  });

  it('names every section that is refused until implemented', () => {
    const paragraph = readme.slice(readme.indexOf('Not implemented yet, and so refused'));
    const sections = new Set(Object.keys(NOT_SUPPORTED_YET).map((key) => key.split('.')[0]!));
    for (const section of sections) {
      expect(paragraph).toContain(section === 'upstreams' ? '`energy`' : `\`[${section}]\``);
    }
  });
});
