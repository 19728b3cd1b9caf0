// host/src/telemetry/iso-time.ts: a log line's time, the same text as
// Date.prototype.toISOString (which costs ICU data, see the file).
import { describe, expect, it } from 'vitest';
import { isoTime } from '../host/src/telemetry/iso-time.js';

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
const FIRST = -62_167_219_200_000;
const LAST = 253_402_300_799_999;

describe('isoTime', () => {
  it('writes what toISOString writes, at the edges of units and over the years 0-9999', () => {
    const edges = [FIRST, LAST, -1, 0, 1, 999, 1000, 59_999, 86_399_999, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2100, 2, 1)];
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const spread = Array.from({ length: 5000 }, () => Math.floor(FIRST + random() * (LAST - FIRST)));
    for (const ms of [...edges, ...spread]) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it('is now by default', () => {
    const before = Date.now();
    const at = Date.parse(isoTime());
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});
