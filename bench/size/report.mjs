// Size report of the edge-core component: raw, gzip and brotli bytes, as JSON,
// compared with the committed snapshot (bench/size/snapshot.json).
//
//   node bench/size/report.mjs            print the report; exit 1 if over budget
//   node bench/size/report.mjs --update   rewrite the snapshot from this build
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const snapshotPath = join(root, 'bench/size/snapshot.json');
const componentPath = join(root, 'target/component/edge-core.wasm');

/** Hard ceiling from the product brief: the component must stay under 3 MB. */
const HARD_LIMIT = 3 * 1024 * 1024;
/** Growth beyond this fraction over the snapshot fails the check until the snapshot is updated on purpose. */
const TOLERANCE = 0.1;

/** @param {Buffer} bytes */
function measure(bytes) {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

const current = measure(readFileSync(componentPath));

if (process.argv.includes('--update')) {
  writeFileSync(snapshotPath, JSON.stringify({ component: current, tolerance: TOLERANCE, hard_limit: HARD_LIMIT }, null, 2) + '\n');
  console.log(JSON.stringify({ updated: snapshotPath, component: current }));
  process.exit(0);
}

const snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8'));
const budget = Math.min(HARD_LIMIT, Math.round(snapshot.component.raw * (1 + snapshot.tolerance)));
const report = {
  bench: 'component-size',
  component: current,
  snapshot: snapshot.component,
  ratio_to_snapshot: {
    raw: +(current.raw / snapshot.component.raw).toFixed(4),
    gzip: +(current.gzip / snapshot.component.gzip).toFixed(4),
    brotli: +(current.brotli / snapshot.component.brotli).toFixed(4),
  },
  budget_raw: budget,
  hard_limit: HARD_LIMIT,
  within_budget: current.raw <= budget,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/size.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
if (!report.within_budget) {
  console.error(
    `component is ${current.raw} bytes, over its budget of ${budget} (snapshot ${snapshot.component.raw} + ${snapshot.tolerance * 100}%). ` +
      'Shrink it, or if the growth is intended, run `node bench/size/report.mjs --update` and commit the snapshot.',
  );
  process.exit(1);
}
