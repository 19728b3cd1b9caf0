// The whole test suite: Rust unit tests, the project checks, then vitest (the files in ALONE in a run of their own, last).
// Ends with one line, "N passed, N failed", summed over every runner.
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { root, log } from './lib.mjs';

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

/** Runs a command with output shown and captured; returns status and text. */
function runTee(cmd, args, env = {}) {
  const result = spawnSync(cmd, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 28 });
  process.stdout.write(result.stdout ?? '');
  process.stderr.write(result.stderr ?? '');
  return { status: result.status ?? 1, text: `${result.stdout}\n${result.stderr}` };
}

function cargoTests() {
  log('cargo test');
  const { status, text } = runTee('cargo', ['test', '--workspace', '--exclude', 'edge-core-component']);
  let seen = false;
  for (const m of text.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g)) {
    seen = true;
    totals.passed += Number(m[1]);
    totals.failed += Number(m[2]);
    totals.skipped += Number(m[3]);
  }
  if (status !== 0 || !seen) {
    failures.push('cargo test');
    if (!seen) totals.failed += 1;
  }
}

/** Project checks count as one test each: generated code current, size within budget, no import cycle, types of host, tests and benches. */
function checks() {
  const list = [
    ['generated bindings are current', process.execPath, ['scripts/build-core.mjs', '--check']],
    ['component within its size snapshot', process.execPath, ['bench/size/report.mjs']],
    ['host/src has no import cycle', process.execPath, ['scripts/check-imports.mjs']],
    ['TypeScript type-checks (strict)', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']],
    ['test/ type-checks (strict, JavaScript through JSDoc)', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'test/tsconfig.json']],
    ['bench/ type-checks (strict, JavaScript through JSDoc)', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'bench/tsconfig.json']],
  ];
  for (const [name, cmd, args] of list) {
    log(`check: ${name}`);
    const { status } = runTee(cmd, args);
    if (status === 0) totals.passed += 1;
    else {
      totals.failed += 1;
      failures.push(`check: ${name}`);
    }
  }
}

// Files that run alone, after the rest: each starts dozens of real nodes and
// measures liveness under deadlines, which a second worker's test beside it on
// a 2-core machine only turns into noise (test/mesh-churn: 32 libp2p nodes).
const ALONE = ['test/mesh-churn.test.ts'];

/** One vitest run over `files` (none: every file but ALONE); counts its tests into totals. */
function vitest(name, files) {
  log(name);
  mkdirSync(join(root, 'target'), { recursive: true });
  const report = join(root, `target/${name.replace(/\W+/g, '-')}-report.json`);
  const select = files ?? ALONE.flatMap((file) => ['--exclude', file]);
  const { status } = runTee(process.execPath, [
    'node_modules/vitest/vitest.mjs', 'run', '--config', 'test/vitest.config.ts', ...select,
    '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
  ], { NO_COLOR: '1' });
  if (!existsSync(report)) {
    totals.failed += 1;
    failures.push(`${name} (no report)`);
    return;
  }
  const json = JSON.parse(readFileSync(report, 'utf8'));
  totals.passed += json.numPassedTests;
  totals.failed += json.numFailedTests;
  totals.skipped += json.numPendingTests + (json.numTodoTests ?? 0);
  // A suite that failed to load has no failed tests but still failed.
  const brokenFiles = json.testResults.filter((f) => f.status === 'failed' && f.assertionResults.every((a) => a.status !== 'failed'));
  totals.failed += brokenFiles.length;
  if (status !== 0) failures.push(name);
}

cargoTests();
checks();
vitest('vitest');
vitest('vitest, alone', ALONE);
if (failures.length > 0) log(`failed: ${failures.join(', ')}`);
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failures.length > 0 || totals.failed > 0 ? 1 : 0);
