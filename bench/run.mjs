// The quick benchmarks, in one run: component size and cold start. The longer
// ones (codec, tokenizer, queue, plugins) run on their own; see README.md.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const script of ['size/report.mjs', 'startup/cold-start.mjs']) {
  const { status } = spawnSync(process.execPath, [join(here, script)], { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
