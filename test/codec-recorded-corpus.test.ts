// The recorded MCP corpus (test/corpus/mcp-recorded, see its MANIFEST.md): its
// lines are the JSON-RPC messages real servers exchanged, its train and test
// parts come from different sessions, and a dictionary trained on train packs
// the held-out test traffic losslessly and smaller than plain zstd.
import { beforeAll, describe, expect, it } from 'vitest';
import type { CoreDictionary } from '../host/src/core/codec.js';
import { loadCore, type EdgeCore } from '../host/src/core/index.js';
import { inBand, recordedLines, recordedSessions, recordedSplit, type RecordedSession } from '../bench/codec/recorded.mjs';

const lines = recordedLines();
const { sessions } = recordedSessions();
const { train, test } = recordedSplit();
const decoder = new TextDecoder('utf-8', { fatal: true });
const parsed = lines.map((line) => JSON.parse(decoder.decode(line)) as Record<string, unknown>);
let core: EdgeCore;

beforeAll(async () => {
  core = await loadCore();
});

/** What kind of JSON-RPC 2.0 message `m` is, or why it is none. */
function kindOf(m: Record<string, unknown>): string {
  if (m.jsonrpc !== '2.0') return 'not 2.0';
  const hasId = typeof m.id === 'string' || (typeof m.id === 'number' && Number.isInteger(m.id));
  if (typeof m.method === 'string') {
    if ('result' in m || 'error' in m) return 'method with result';
    return hasId ? 'request' : 'id' in m ? 'bad id' : 'notification';
  }
  if (!hasId) return 'response without id';
  if ('result' in m === 'error' in m) return 'needs exactly one of result and error';
  if ('result' in m) return typeof m.result === 'object' && m.result !== null ? 'result' : 'result not an object';
  const error = m.error as { code?: unknown; message?: unknown };
  return Number.isInteger(error?.code) && typeof error?.message === 'string' ? 'error' : 'malformed error';
}

describe('recorded corpus', () => {
  it('every line is one JSON-RPC 2.0 message, and the corpus stays small', () => {
    const kinds = new Map<string, number>();
    for (const m of parsed) kinds.set(kindOf(m), (kinds.get(kindOf(m)) ?? 0) + 1);
    expect([...kinds.keys()].sort()).toEqual(['error', 'notification', 'request', 'result']);
    const total = lines.reduce((n, l) => n + l.length + 1, 0);
    expect(total).toBeLessThan(1 << 20);
  });

  it('sessions cover every line once, in order, with a direction per line', () => {
    let next = 0;
    for (const s of sessions) {
      expect(s.start).toBe(next);
      expect(s.directions).toMatch(new RegExp(`^[cs]{${s.count}}$`));
      next += s.count;
    }
    expect(next).toBe(lines.length);
  });

  it('within a session every response answers a request sent the other way', () => {
    for (const s of sessions) {
      const asked = { c: new Set<unknown>(), s: new Set<unknown>() };
      for (let i = 0; i < s.count; i++) {
        const m = parsed[s.start + i]!;
        const dir = s.directions[i] as 'c' | 's';
        if (typeof m.method === 'string' && 'id' in m) asked[dir].add(m.id);
        else if (!('method' in m)) expect(asked[dir === 'c' ? 's' : 'c'].has(m.id), `${s.server} seed ${s.seed} line ${s.start + i}`).toBe(true);
      }
    }
  });

  it('train and test come from different sessions, each with every server', () => {
    const key = (s: RecordedSession) => `${s.server}/${s.seed}`;
    const trainKeys = new Set(sessions.filter((s) => s.split === 'train').map(key));
    const testSessions = sessions.filter((s) => s.split === 'test');
    expect(testSessions.length).toBeGreaterThan(0);
    for (const s of testSessions) expect(trainKeys.has(key(s)), key(s)).toBe(false);
    const trainSeeds = new Set(sessions.filter((s) => s.split === 'train').map((s) => s.seed));
    for (const s of testSessions) expect(trainSeeds.has(s.seed)).toBe(false);
    for (const split of ['train', 'test']) {
      expect(new Set(sessions.filter((s) => s.split === split).map((s) => s.server))).toEqual(new Set(['everything', 'filesystem', 'memory']));
    }
    expect(train.length + test.length).toBe(lines.length);
  });
});

describe('a dictionary trained on the train sessions', () => {
  let dict: CoreDictionary;
  beforeAll(() => {
    dict = core.codec.trainDictionary(train.filter(inBand), 16 * 1024);
  });

  it('packs every held-out message to a frame that unpacks to the same bytes', () => {
    for (const [i, m] of test.entries()) {
      const back = dict.unpack(dict.pack(m, 3), m.length);
      expect(back.length, `test message ${i}`).toBe(m.length);
      expect(Buffer.compare(back, m), `test message ${i}`).toBe(0);
    }
  });

  it('makes the held-out 256 B - 4 KB messages clearly smaller than plain zstd-3 frames', () => {
    const band = test.filter(inBand);
    expect(band.length).toBeGreaterThanOrEqual(100);
    const plain = band.reduce((n, m) => n + core.codec.pack(m, { algorithm: 'zstd', level: 3 }).length, 0);
    const withDict = band.reduce((n, m) => n + dict.pack(m, 3).length, 0);
    // Measured 1.97x (147 messages, 147059 B: 54527 B plain, 27648 B with the
    // dictionary) when this test was written with the FastCover trainer, 2.04x
    // with COVER; an earlier recording of the same plan gave 1.91x. 1.6 leaves
    // room for zstd or trainer changes and for a re-recorded corpus while still
    // failing if the dictionary stops helping.
    expect(plain / withDict).toBeGreaterThan(1.6);
  });
});
