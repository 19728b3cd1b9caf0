// The rule patterns (security/glob.ts): compiled once from the config, names
// only compared. Refusals first: what a pattern must not match.
import { describe, expect, it } from 'vitest';
import { compileGlob, globProblem } from '../host/src/security/glob.js';

describe('rule patterns', () => {
  it('refuses patterns that are not printable ASCII or end with a lone backslash', () => {
    for (const bad of ['', 'shéll', 'a\tb', 'x'.repeat(513), 'tool\\', 'a\\\\\\']) expect(globProblem(bad), JSON.stringify(bad)).toBeDefined();
    for (const good of ['*', 'a\\*', 'a\\\\', 'GET /v1/queue/*', 'file:///data/?.txt']) expect(globProblem(good), good).toBeUndefined();
  });

  it('treats glob characters in names as plain characters, and an escaped star in a pattern as a star', () => {
    const literal = compileGlob('star\\*');
    expect(literal.matches('star*')).toBe(true);
    expect(literal.matches('starX')).toBe(false);
    expect(literal.matches('star')).toBe(false);
    const prefix = compileGlob('db_*');
    expect(prefix.matches('db_*')).toBe(true);
    expect(prefix.matches('db_')).toBe(true);
    expect(prefix.matches('xdb_query')).toBe(false);
    expect(compileGlob('a?c').matches('abc')).toBe(true);
    expect(compileGlob('a?c').matches('ac')).toBe(false);
  });

  it('matches exactly for allow (case, look-alikes, non-ASCII never) and loosely for deny (case, NFKC)', () => {
    const g = compileGlob('shell_*');
    expect(g.matches('Shell_run')).toBe(false);
    expect(g.matchesFolded('SHELL_RUN')).toBe(true);
    expect(g.matchesFolded('ｓｈｅｌｌ_run')).toBe(true);
    expect(compileGlob('*').matches('ѕhell_run')).toBe(false);
    expect(compileGlob('*').matchesFolded('ѕhell_run')).toBe(true);
    expect(compileGlob('everything__*').matches('evil__everything__x')).toBe(false);
  });

  it('matches stars without backtracking blow-up (a pathological pattern against a long name)', () => {
    const g = compileGlob('*a*a*a*a*a*a*a*a*b');
    expect(g.matches('a'.repeat(5_000))).toBe(false);
    expect(g.matches(`${'a'.repeat(5_000)}b`)).toBe(true);
  });
});
