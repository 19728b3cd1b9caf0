// Reads the conformance suite's per-scenario checks and holds them against the
// expected-failures burn-down list. Pure functions plus one directory walk.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One check of a scenario, as the suite writes it in checks.json.
 * @typedef {{ id?: string; status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | string; description?: string; errorMessage?: string }} Check
 */
/** @typedef {{ passed: boolean; problems: string[] }} Outcome */
/**
 * @typedef {object} Comparison
 * @property {boolean} ok
 * @property {number} total
 * @property {number} passed
 * @property {{ scenario: string; problems: string[] }[]} unexpectedFailures
 * @property {{ scenario: string; why: string }[]} staleEntries
 * @property {{ scenario: string; reason: string }[]} expectedFailures
 */

const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/;
const RUNNING_LINE = /^=== Running scenario: (\S+) ===$/gm;

/**
 * Scenario names in the order the suite announced them on stdout.
 * @param {string} suiteStdout
 * @returns {string[]}
 */
export function scenariosRun(suiteStdout) {
  return [...suiteStdout.matchAll(RUNNING_LINE)].map((m) => m[1] ?? '');
}

/**
 * scenario -> checks array, from the suite's `-o` output directory.
 * @param {string} outputDir
 * @returns {Map<string, Check[]>}
 */
export function readChecks(outputDir) {
  const byScenario = new Map();
  for (const entry of readdirSync(outputDir, { withFileTypes: true })) {
    const match = entry.isDirectory() ? RESULT_DIR.exec(entry.name) : null;
    if (!match) continue;
    const checks = JSON.parse(readFileSync(join(outputDir, entry.name, 'checks.json'), 'utf8'));
    byScenario.set(match[1] ?? '', checks);
  }
  return byScenario;
}

/**
 * A scenario passes when it has at least one check and none is FAILURE or
 * WARNING: the suite's own baseline logic counts warnings as failures too.
 * @param {Check[] | undefined} checks
 * @returns {Outcome}
 */
export function verdict(checks) {
  if (!checks || checks.length === 0) return { passed: false, problems: ['no checks recorded (scenario crashed?)'] };
  const problems = checks
    .filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
    .map((c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description}`);
  return { passed: problems.length === 0, problems };
}

/**
 * Validates the list for one target: [{ scenario, reason }], no duplicates, reasons given.
 * @param {unknown} entries
 * @param {string} target
 * @returns {Map<string, string>}
 */
export function parseExpected(entries, target) {
  if (!Array.isArray(entries)) throw new Error(`expected-failures: "${target}" must be an array of { scenario, reason }`);
  const seen = new Map();
  for (const entry of entries) {
    if (typeof entry?.scenario !== 'string' || typeof entry?.reason !== 'string' || entry.reason.trim() === '') {
      throw new Error(`expected-failures: every "${target}" entry needs a scenario and a non-empty reason: ${JSON.stringify(entry)}`);
    }
    if (seen.has(entry.scenario)) throw new Error(`expected-failures: "${entry.scenario}" is listed twice for "${target}"`);
    seen.set(entry.scenario, entry.reason);
  }
  return seen;
}

/**
 * Compares outcomes with the expected failures. The run fails on a failure that
 * is not listed, on a listed scenario that now passes (stale: remove it), and on
 * a listed scenario the suite no longer runs (stale too).
 * @param {Map<string, Outcome>} outcomes
 * @param {Map<string, string>} expected
 * @returns {Comparison}
 */
export function compare(outcomes, expected) {
  /** @type {Comparison['unexpectedFailures']} */
  const unexpectedFailures = [];
  /** @type {Comparison['staleEntries']} */
  const staleEntries = [];
  /** @type {Comparison['expectedFailures']} */
  const expectedFailures = [];
  for (const [scenario, outcome] of outcomes) {
    const listed = expected.has(scenario);
    if (!outcome.passed && !listed) unexpectedFailures.push({ scenario, problems: outcome.problems });
    else if (!outcome.passed) expectedFailures.push({ scenario, reason: expected.get(scenario) ?? '' });
    else if (listed) staleEntries.push({ scenario, why: 'now passes; remove it from expected-failures.json' });
  }
  for (const scenario of expected.keys()) {
    if (!outcomes.has(scenario)) staleEntries.push({ scenario, why: 'the pinned suite does not run this scenario' });
  }
  const passed = [...outcomes.values()].filter((o) => o.passed).length;
  return {
    ok: unexpectedFailures.length === 0 && staleEntries.length === 0,
    total: outcomes.size,
    passed,
    unexpectedFailures,
    staleEntries,
    expectedFailures,
  };
}

/**
 * Outcome per announced scenario; one announced but without results counts as failed.
 * @param {string} suiteStdout
 * @param {string} outputDir
 * @returns {Map<string, Outcome>}
 */
export function collectOutcomes(suiteStdout, outputDir) {
  const checks = readChecks(outputDir);
  const outcomes = new Map();
  for (const scenario of scenariosRun(suiteStdout)) outcomes.set(scenario, verdict(checks.get(scenario)));
  return outcomes;
}
