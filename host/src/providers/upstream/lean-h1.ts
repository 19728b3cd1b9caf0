// Reads HTTP/1.1 responses from a socket's bytes, for lean-socket.ts: the
// status line and headers, then a body framed by Content-Length, by chunked
// transfer coding, or by the end of the connection. Informational (1xx)
// answers are skipped. Limits: a head of at most 64 KiB, a chunk-size line of
// at most 1 KiB; anything else malformed throws, and the socket is dropped.
import type { IncomingHttpHeaders } from 'node:http';

export interface ResponseHead {
  status: number;
  headers: IncomingHttpHeaders;
  /** The server's `Keep-Alive: timeout=N`, in ms, when it gave one. */
  keepAliveMs?: number;
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  data(chunk: Buffer): void;
  /** The body ended; `reusable` when the connection may carry another request. */
  end(reusable: boolean): void;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const HEX = /^[0-9a-fA-F]{1,13}$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;

type State =
  | { at: 'idle' }
  | { at: 'head' }
  | { at: 'length'; left: number }
  | { at: 'chunk-size' }
  | { at: 'chunk-data'; left: number }
  | { at: 'chunk-end' }
  | { at: 'trailers' }
  | { at: 'until-close' };

export class ResponseReader {
  private state: State = { at: 'idle' };
  /** Bytes of an unfinished head or line. */
  private held: Buffer | undefined;
  private reusable = true;

  constructor(private readonly sink: ResponseSink) {}

  /** A request was sent: its answer's head comes next. */
  expect(): void {
    this.state = { at: 'head' };
    this.held = undefined;
  }

  /** The connection closed: true when that ends the body (which is then told to the sink). */
  closeEnds(): boolean {
    if (this.state.at !== 'until-close') return false;
    this.state = { at: 'idle' };
    this.sink.end(false);
    return true;
  }

  push(chunk: Buffer): void {
    let data = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = undefined;
    while (data.length > 0) {
      const used = this.step(data);
      if (used < 0) return void (this.held = data);
      data = data.subarray(used);
    }
  }

  /** Consumes the start of `data`: how many bytes, or -1 when more must come first. */
  private step(data: Buffer): number {
    const state = this.state;
    switch (state.at) {
      case 'idle':
        throw new Error('bytes after the end of the answer');
      case 'head':
        return this.readHead(data);
      case 'length': {
        const n = Math.min(state.left, data.length);
        this.sink.data(data.subarray(0, n));
        state.left -= n;
        if (state.left === 0) this.finish();
        return n;
      }
      case 'until-close':
        this.sink.data(data);
        return data.length;
      case 'chunk-data': {
        const n = Math.min(state.left, data.length);
        this.sink.data(data.subarray(0, n));
        state.left -= n;
        if (state.left === 0) this.state = { at: 'chunk-end' };
        return n;
      }
      case 'chunk-end':
        if (data.length < 2) return -1;
        if (data[0] !== 13 || data[1] !== 10) throw new Error('a chunk does not end with CRLF');
        this.state = { at: 'chunk-size' };
        return 2;
      case 'chunk-size':
        return this.readLine(data, (line) => {
          const digits = line.split(';', 1)[0]!.trim();
          const size = HEX.test(digits) ? Number.parseInt(digits, 16) : NaN;
          if (!Number.isSafeInteger(size)) throw new Error(`bad chunk size "${line.slice(0, 40)}"`);
          this.state = size === 0 ? { at: 'trailers' } : { at: 'chunk-data', left: size };
        });
      case 'trailers':
        return this.readLine(data, (line) => {
          if (line === '') this.finish();
        });
    }
  }

  /** One CRLF-ended line (trailers, chunk sizes): the bytes used, or -1 until it is complete. */
  private readLine(data: Buffer, use: (line: string) => void): number {
    const end = data.indexOf(CRLF);
    if (end < 0) {
      if (data.length > MAX_LINE_BYTES) throw new Error('a chunk-size or trailer line is too long');
      return -1;
    }
    use(data.toString('latin1', 0, end));
    return end + 2;
  }

  private readHead(data: Buffer): number {
    const end = data.indexOf(HEAD_END);
    if (end < 0) {
      if (data.length > MAX_HEAD_BYTES) throw new Error(`the head is larger than ${MAX_HEAD_BYTES} bytes`);
      return -1;
    }
    const text = data.toString('latin1', 0, end);
    const firstEnd = text.indexOf('\r\n');
    const statusLine = firstEnd < 0 ? text : text.slice(0, firstEnd);
    const status = STATUS_LINE.exec(statusLine);
    if (!status) throw new Error(`bad status line "${statusLine.slice(0, 80)}"`);
    const code = Number(status[2]);
    const headers = firstEnd < 0 ? {} : parseHeaders(text, firstEnd + 2);
    if (code >= 100 && code < 200) return end + 4; // informational: the real answer follows
    this.state = bodyState(code, headers);
    this.reusable = status[1] === '1' && !hasToken(headers.connection, 'close') && this.state.at !== 'until-close';
    const keepAliveMs = keepAliveTimeout(headers['keep-alive']);
    this.sink.head({ status: code, headers, ...(keepAliveMs !== undefined ? { keepAliveMs } : {}) });
    if (this.state.at === 'idle') this.sink.end(this.reusable);
    return end + 4;
  }

  private finish(): void {
    this.state = { at: 'idle' };
    this.sink.end(this.reusable);
  }
}

/**
 * The header lines of a head from `from` on (CRLF-separated, without the
 * blank line), walked with indexOf over one string: no array of lines, and
 * a name or value is sliced again only when it has to be trimmed or lowered.
 */
function parseHeaders(text: string, from: number): IncomingHttpHeaders {
  // No prototype: a header named like an Object.prototype member ("constructor", "__proto__") is a header like any other.
  const headers = Object.create(null) as Record<string, string>;
  let start = from;
  while (start <= text.length) {
    let end = text.indexOf('\r\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon <= start || colon > end) throw new Error(`bad header line "${text.slice(start, Math.min(end, start + 80))}"`);
    const name = lowerName(text.slice(start, colon));
    const value = text.slice(colon + 1, end).trim();
    // A repeated header: its values joined, as node:http does for most (the lean client reads single-valued ones).
    const before = headers[name];
    headers[name] = before === undefined ? value : `${before}, ${value}`;
    start = end + 2;
  }
  return headers;
}

/** A header name trimmed and lower-cased; the same string when it already is (most servers send lower case). */
function lowerName(raw: string): string {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c <= 32) return raw.trim().toLowerCase();
  }
  return raw;
}

function bodyState(status: number, headers: IncomingHttpHeaders): State {
  if (status === 204 || status === 304) return { at: 'idle' };
  const coding = headers['transfer-encoding'];
  if (typeof coding === 'string') {
    if (!hasToken(coding, 'chunked')) return { at: 'until-close' };
    return { at: 'chunk-size' };
  }
  const length = headers['content-length'];
  if (typeof length === 'string') {
    if (!/^\d+$/.test(length)) throw new Error(`bad content-length "${length.slice(0, 40)}"`);
    const left = Number(length);
    return left === 0 ? { at: 'idle' } : { at: 'length', left };
  }
  return { at: 'until-close' };
}

function hasToken(value: string | string[] | undefined, token: string): boolean {
  return typeof value === 'string' && value.toLowerCase().split(',').some((t) => t.trim() === token);
}

function keepAliveTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /(?:^|,|\s)timeout\s*=\s*(\d+)/i.exec(value);
  return match ? Number(match[1]) * 1000 : undefined;
}
