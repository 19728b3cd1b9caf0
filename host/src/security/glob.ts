// Name patterns of the authorization and rate-limit rules: `*` stands for any
// run of characters (none included), `?` for exactly one, `\` makes the next
// character literal (`\*` is a star). Patterns come from the config and are
// compiled once when it is loaded; names come from clients and upstreams and
// are only ever compared, never compiled. Matching walks both strings (worst
// case length x length, no backtracking blow-up, no RegExp) and allocates
// nothing.
//
// Two ways to compare, because allowing and denying fail in opposite
// directions:
// - exact (allow rules): code unit for code unit, case included; a name with
//   any character outside printable ASCII never matches, so a look-alike
//   ("ѕhell_run" with a Cyrillic s) is not allowed by a rule for the real one;
// - folded (deny rules): ASCII case ignored, and a non-ASCII name is also
//   tried in its NFKC form (fullwidth "ｓｈｅｌｌ_run" is "shell_run"), so a
//   variant spelling of a denied name is still denied.

/** What may appear in a pattern: printable ASCII and the space (routes are "METHOD /path"). */
const PATTERN_CHARS = /^[\x20-\x7e]{1,512}$/;

/** Why `pattern` is not a usable pattern, or undefined when it is. */
export function globProblem(pattern: string): string | undefined {
  if (!PATTERN_CHARS.test(pattern)) return 'a pattern is 1-512 printable ASCII characters (a name with other characters can be denied by wildcards, never allowed)';
  if (/(^|[^\\])(\\\\)*\\$/.test(pattern)) return 'a pattern cannot end with a lone "\\" (it escapes the next character)';
  return undefined;
}

/** One step of a compiled pattern: a literal character (its code), or a wildcard. */
const STAR = -1;
const ANY = -2;

export interface Glob {
  /** The pattern as written, for messages. */
  readonly source: string;
  /** Exact comparison (allow rules). */
  matches(name: string): boolean;
  /** ASCII case ignored, NFKC form of non-ASCII names tried too (deny rules). */
  matchesFolded(name: string): boolean;
}

const lower = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);

function isPrintableAscii(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/**
 * Whether `name` matches `steps` (STAR, ANY or character codes). The classic
 * two-pointer walk: on a mismatch after a star, the star takes one more
 * character and the rest is tried again.
 */
function walk(steps: Int32Array, name: string, fold: boolean): boolean {
  let s = 0;
  let n = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (n < name.length) {
    const step = s < steps.length ? steps[s]! : undefined;
    if (step === STAR) {
      starAt = s++;
      resumeAt = n;
      continue;
    }
    if (step !== undefined && (step === ANY || step === (fold ? lower(name.charCodeAt(n)) : name.charCodeAt(n)))) {
      s++;
      n++;
      continue;
    }
    if (starAt < 0) return false;
    s = starAt + 1;
    n = ++resumeAt;
  }
  while (s < steps.length && steps[s] === STAR) s++;
  return s === steps.length;
}

/** Compiles a pattern that globProblem accepted (a programming error otherwise). */
export function compileGlob(pattern: string): Glob {
  const problem = globProblem(pattern);
  if (problem) throw new Error(`pattern "${pattern}": ${problem}`);
  const exact: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') exact.push(pattern.charCodeAt(++i));
    else if (c === '*') {
      if (exact.at(-1) !== STAR) exact.push(STAR);
    } else if (c === '?') exact.push(ANY);
    else exact.push(pattern.charCodeAt(i));
  }
  const steps = Int32Array.from(exact);
  const folded = Int32Array.from(exact, (c) => (c >= 0 ? lower(c) : c));
  const literal = exact.every((c) => c >= 0);
  const text = literal ? String.fromCharCode(...exact) : '';
  return {
    source: pattern,
    matches: literal ? (name) => name === text : (name) => isPrintableAscii(name) && walk(steps, name, false),
    matchesFolded: (name) => walk(folded, name, true) || (!isPrintableAscii(name) && walk(folded, name.normalize('NFKC'), true)),
  };
}

/** A list of patterns as one: matches when any of them does. */
export class GlobSet {
  private readonly globs: readonly Glob[];
  constructor(patterns: readonly string[]) {
    this.globs = patterns.map(compileGlob);
  }

  get empty(): boolean {
    return this.globs.length === 0;
  }

  matches(name: string): boolean {
    for (const g of this.globs) if (g.matches(name)) return true;
    return false;
  }

  matchesFolded(name: string): boolean {
    for (const g of this.globs) if (g.matchesFolded(name)) return true;
    return false;
  }
}
