// The official MCP conformance suite (pinned in test/conformance/suite) against
// our targets, through test/conformance/run.mjs, plus the burn-down logic that
// makes a stale expected-failures entry fail the run.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compare, parseExpected, verdict, type Comparison } from './conformance/lib/results.mjs';

const RUNNER = join(import.meta.dirname, 'conformance/run.mjs');
// First use installs the pinned suite and its Node 22 with npm ci.
const RUN_TIMEOUT_MS = 240_000;

type Summary = Comparison & { target: string; url: string };

/** Runs the runner in its own process group and kills the whole group on timeout. */
function runRunner(args: string[]): Promise<{ code: number | null; summary: Summary | undefined; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`runner timed out; stderr:\n${stderr}`));
    }, RUN_TIMEOUT_MS - 5_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, summary: stdout.trim() ? (JSON.parse(stdout) as Summary) : undefined, stderr });
    });
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'conformance-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function expectedFile(name: string, fixture: unknown[]): string {
  const file = join(scratch, name);
  writeFileSync(file, JSON.stringify({ targets: { fixture } }));
  return file;
}

/** A 127.0.0.1 port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('MCP conformance suite (active server scenarios)', () => {
  it('passes every scenario against the fixture server, matching expected-failures.json', { timeout: RUN_TIMEOUT_MS }, async () => {
    const { code, summary, stderr } = await runRunner(['--target', 'fixture']);
    expect(stderr).not.toMatch(/conformance: /);
    expect(summary?.unexpectedFailures).toEqual([]);
    expect(summary?.staleEntries).toEqual([]);
    expect(summary?.total).toBeGreaterThanOrEqual(30);
    expect(summary?.passed).toBe(summary?.total);
    expect(code).toBe(0);
  });

  it('passes through mcp-edge fronting the fixture over stdio, matching expected-failures.json', { timeout: RUN_TIMEOUT_MS }, async () => {
    const { code, summary, stderr } = await runRunner(['--target', 'gateway']);
    expect(stderr).not.toMatch(/conformance: /);
    expect(summary?.unexpectedFailures).toEqual([]);
    expect(summary?.staleEntries).toEqual([]);
    expect(summary?.total).toBeGreaterThanOrEqual(30);
    expect(code).toBe(0);
  });

  it('fails the run when a listed scenario now passes or no longer exists', { timeout: RUN_TIMEOUT_MS }, async () => {
    const file = expectedFile('stale.json', [
      { scenario: 'ping', reason: 'listed on purpose: ping passes against the fixture' },
      { scenario: 'no-such-scenario', reason: 'listed on purpose: the suite has no such scenario' },
    ]);
    const { code, summary } = await runRunner(['--target', 'fixture', '--expected-failures', file]);
    expect(code).toBe(1);
    expect(summary?.staleEntries.map((e) => e.scenario).sort()).toEqual(['no-such-scenario', 'ping']);
  });

  it('fails the run when scenarios fail that are not listed', { timeout: RUN_TIMEOUT_MS }, async () => {
    const url = `http://127.0.0.1:${await closedPort()}/mcp`;
    const { code, summary } = await runRunner(['--url', url, '--expected-failures', expectedFile('empty.json', [])]);
    expect(code).toBe(1);
    expect(summary?.passed).toBe(0);
    expect(summary?.unexpectedFailures.map((f) => f.scenario)).toContain('server-initialize');
  });
});

describe('expected-failures burn-down logic', () => {
  const outcomes = new Map([
    ['a', { passed: true, problems: [] }],
    ['b', { passed: false, problems: ['FAILURE b'] }],
    ['c', { passed: false, problems: ['WARNING c'] }],
  ]);

  it('accepts listed failures and reports unlisted ones', () => {
    const result = compare(outcomes, parseExpected([{ scenario: 'b', reason: 'known' }], 'fixture'));
    expect(result.ok).toBe(false);
    expect(result.expectedFailures).toEqual([{ scenario: 'b', reason: 'known' }]);
    expect(result.unexpectedFailures.map((f) => f.scenario)).toEqual(['c']);
  });

  it('is ok when exactly the failing scenarios are listed', () => {
    const list = [{ scenario: 'b', reason: 'known' }, { scenario: 'c', reason: 'known too' }];
    expect(compare(outcomes, parseExpected(list, 'fixture')).ok).toBe(true);
  });

  it('rejects entries without a reason and duplicates', () => {
    expect(() => parseExpected([{ scenario: 'b', reason: ' ' }], 'fixture')).toThrow(/non-empty reason/);
    expect(() => parseExpected([{ scenario: 'b', reason: 'r' }, { scenario: 'b', reason: 'r' }], 'fixture')).toThrow(/twice/);
  });

  it('counts warnings and empty check lists as failures, like the suite baseline does', () => {
    expect(verdict([{ status: 'SUCCESS' }, { status: 'WARNING', id: 'w' }]).passed).toBe(false);
    expect(verdict([]).passed).toBe(false);
    expect(verdict([{ status: 'SUCCESS' }, { status: 'INFO' }]).passed).toBe(true);
  });
});
