// Quick project checks: generated bindings current, component size within its
// snapshot, no import cycle in host/src, strict type-check of the host, the
// tests and the benches (their JavaScript through JSDoc). `npm test` runs these too.
import { join } from 'node:path';
import { root, run } from './lib.mjs';

run(process.execPath, [join(root, 'scripts/build-core.mjs'), '--check']);
run(process.execPath, [join(root, 'bench/size/report.mjs')]);
run(process.execPath, [join(root, 'scripts/check-imports.mjs')]);
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'test/tsconfig.json')]);
run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'bench/tsconfig.json')]);
