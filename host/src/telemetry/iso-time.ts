// The time of a log line, as Date.prototype.toISOString writes it, without
// toISOString: in Node 24's V8 that first looks up the local time zone's
// display name, which loads ICU's time-zone-names data (~1.1 MB resident for
// the rest of the process, bench/startup/README.md) for a string in UTC that
// never shows it. Same text for every time in the years 0-9999.

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `ms` since the epoch as `YYYY-MM-DDTHH:mm:ss.sssZ`. */
export function isoTime(ms: number = Date.now()): string {
  const d = new Date(ms);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return `${date}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}
