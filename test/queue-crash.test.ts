// The offline queue survives kill -9. A sender gateway process defers calls
// under load to a destination mcp-edge (a second process) and is killed with
// SIGKILL at random moments (while enqueueing, while syncing, between a send
// and its acknowledgement), many times in a row, then restarted to drain.
// Every acknowledged call must take effect at the destination exactly once;
// no call may take effect twice; the sender's database must pass
// PRAGMA integrity_check.
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers/processes.js';
import { SplitMix } from './helpers/queue.js';

const FIXTURES = join(ROOT, 'test/fixtures/queue');
const KILLS = 12;
const PER_RUN = 400;
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  lines: string[];
  exited: Promise<void>;
}

function start(script: string, args: string[]): Proc {
  const child = spawn(process.execPath, [join(FIXTURES, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: string[] = [];
  let buffer = '';
  let stderr = '';
  let resolveUrl: (u: string) => void;
  let rejectUrl: (e: Error) => void;
  const url = new Promise<string>((res, rej) => ((resolveUrl = res), (rejectUrl = rej)));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (line.startsWith('READY ')) resolveUrl(line.slice(6));
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<void>((res) =>
    child.once('exit', () => {
      children.delete(child);
      rejectUrl(new Error(`${script} exited before READY:\n${stderr}`));
      res();
    }),
  );
  return { child, url, lines, exited };
}

async function queueDepth(url: string): Promise<number> {
  const res = await fetch(new URL('/v1/queue/status', url));
  return ((await res.json()) as { depth: number }).depth;
}

describe('offline queue under SIGKILL', () => {
  it(`delivers every acknowledged call exactly once across ${KILLS} kills`, async () => {
    const destDir = tempDir('mcp-edge-dest-');
    const sendDir = tempDir('mcp-edge-send-');
    // The destination answers 15 ms after the effect: kills often land between a send and its acknowledgement.
    const dest = start('destination.mjs', [destDir, '0', '15']);
    const destUrl = await dest.url;
    const rng = new SplitMix(0x5eed);
    const acked = new Set<number>();
    for (let run = 0; run < KILLS; run++) {
      const sender = start('sender.mjs', [sendDir, destUrl, String(run * 100_000), String(PER_RUN)]);
      await sender.url;
      await new Promise((r) => setTimeout(r, 100 + rng.below(900)));
      sender.child.kill('SIGKILL');
      await sender.exited;
      for (const line of sender.lines) if (line.startsWith('ACK ')) acked.add(Number(line.slice(4)));
    }
    expect(acked.size).toBeGreaterThan(KILLS * 20);

    // Restart and let it drain.
    const final = start('sender.mjs', [sendDir, destUrl, '0', '0']);
    const finalUrl = await final.url;
    const deadline = Date.now() + 120_000;
    while ((await queueDepth(finalUrl)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await queueDepth(finalUrl)).toBe(0);
    final.child.kill('SIGKILL');
    await final.exited;

    const memory = (await (await fetch(new URL('/v1/idempotency/status', destUrl))).json()) as { repeats_answered: number };
    console.log(`crash test: ${acked.size} acknowledged, ${memory.repeats_answered} resends answered from the destination's idempotency memory`);
    // Proof that some kills fell between a send and its acknowledgement.
    expect(memory.repeats_answered).toBeGreaterThan(0);
    const effects = new Database(join(destDir, 'mcp-edge.db'), { readonly: true });
    const counts = effects.prepare('SELECT n, COUNT(*) AS c FROM effects GROUP BY n').all() as { n: number; c: number }[];
    effects.close();
    const seen = new Map(counts.map((r) => [r.n, r.c]));
    const duplicated = counts.filter((r) => r.c > 1);
    const lost = [...acked].filter((n) => !seen.has(n));
    expect(duplicated).toEqual([]);
    expect(lost).toEqual([]);

    const sender = new Database(join(sendDir, 'mcp-edge.db'), { readonly: true });
    expect(sender.pragma('integrity_check', { simple: true })).toBe('ok');
    const states = sender.prepare("SELECT COUNT(*) FROM deferred WHERE state = 'queued'").pluck().get();
    sender.close();
    expect(states).toBe(0);
    dest.child.kill('SIGTERM');
    await dest.exited;
  }, 300_000);
});
