// Summarizes .cpuprofile files (from bench/auth/profile.mjs) by self time:
// the functions (name + file:line) and the files with the most samples, each
// as a share of all samples, so two profiles of different lengths compare.
// Given two profiles, the second column is the second one and the third the
// difference in µs of self time per call (with --calls N, the calls each served).
//
//   node bench/auth/profile-summary.mjs a.cpuprofile [b.cpuprofile] [--calls N] [--top N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args, positionals: files } = parseArgs({ allowPositionals: true, options: { calls: { type: 'string' }, top: { type: 'string' } } });
const TOP = Number(args.top ?? 40);
const CALLS = args.calls ? Number(args.calls) : undefined;

/** @typedef {{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }} ProfileNode */

/** Self time in µs by function key and by file, and the total. @param {string} file */
function summarize(file) {
  /** @type {{ nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }} */
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<string, number>} */
  const fns = new Map();
  /** @type {Map<string, number>} */
  const urls = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const short = url.replace(/^.*\/(node_modules|host\/dist)\//, '$1/').replace(/^file:\/\//, '');
    const key = `${functionName || '(anon)'} ${short}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    urls.set(short || '(native)', (urls.get(short || '(native)') ?? 0) + us);
    total += us;
  });
  return { fns, urls, total };
}

const profiles = files.map(summarize);
const pct = (/** @type {number} */ us, /** @type {number} */ total) => ((100 * us) / total).toFixed(2).padStart(6);
const perCall = (/** @type {number} */ us) => (CALLS ? (us / CALLS).toFixed(2).padStart(7) : '');

/** @param {'fns' | 'urls'} field */
function table(field) {
  const [a, b] = profiles;
  if (!a) return;
  const keys = new Set([...a[field].keys(), ...(b ? b[field].keys() : [])]);
  const rows = [...keys].map((k) => {
    const ua = a[field].get(k) ?? 0;
    const ub = b?.[field].get(k) ?? 0;
    return { k, ua, ub, diff: ub - ua };
  });
  rows.sort((x, y) => (b ? y.diff - x.diff : y.ua - x.ua));
  process.stdout.write(`\n== by ${field === 'fns' ? 'function' : 'file'}: ${b ? '% a, % b, (b-a) µs/call' : '% self'}${CALLS ? ' µs/call' : ''}\n`);
  for (const r of rows.slice(0, TOP)) {
    process.stdout.write(`${pct(r.ua, a.total)}%${perCall(r.ua)} ${b ? `${pct(r.ub, b.total)}%${perCall(r.ub)} ${perCall(r.diff)} ` : ''} ${r.k}\n`);
  }
}
process.stdout.write(profiles.map((p, i) => `${files[i]}: ${(p.total / 1000).toFixed(0)} ms sampled${CALLS ? `, ${(p.total / CALLS).toFixed(1)} µs/call` : ''}`).join('\n') + '\n');
table('urls');
table('fns');
