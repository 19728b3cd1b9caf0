// Structured logs, one line per event, to stderr only: in `mcp-edge stdio`,
// stdout belongs to the MCP protocol and a stray line there breaks the client.
// Two formats: `json` (one object a line, for collectors) and `pretty` (for a
// person at a terminal). Each line carries the request it was written for
// (log-context.ts). The level and the format live in one LogControl that a
// root logger and all its children share, so they can change at run time
// (POST /v1/log, SIGHUP); a line below the level costs one comparison.
import { activeSpan } from './active-span.js';
import { currentLogContext, traceIdOf, type RequestLogContext } from './log-context.js';
import { isoTime } from './iso-time.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
export type LogFormat = 'json' | 'pretty';
/** What [log] format and --log-format take: `auto` is pretty on a terminal, json otherwise. */
export type LogFormatChoice = LogFormat | 'auto';
export const LOG_FORMATS: readonly LogFormatChoice[] = ['json', 'pretty', 'auto'];

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

type Fields = Record<string, unknown>;

/** What the gateway logs through: createLogger's, or an embedder's own (which then keeps its own level and format). */
export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** Whether a line at `level` is written now: checked before costly fields are worked out (absent: such lines are skipped). */
  enabled?(level: LogLevel): boolean;
  /** The level and format, shared by this logger's whole family; absent on a logger that is not createLogger's. */
  readonly control?: LogControl;
}

/** A logger made by createLogger. */
export interface EdgeLogger extends Logger {
  enabled(level: LogLevel): boolean;
  /** A logger whose lines all carry `fields`; it shares this one's level, format and sink. */
  child(fields: Fields): EdgeLogger;
  readonly control: LogControl;
}

/** `auto` made concrete: pretty when stderr is a terminal. */
export function concreteFormat(choice: LogFormatChoice, isTty = process.stderr.isTTY === true): LogFormat {
  return choice === 'auto' ? (isTty ? 'pretty' : 'json') : choice;
}

/** The level, the format and the sink of a family of loggers. */
export class LogControl {
  /** The numeric level: lines below it are dropped before anything is built. */
  threshold: number;
  constructor(
    private current: LogLevel,
    public format: LogFormat,
    readonly write: (line: string) => void,
  ) {
    this.threshold = ORDER[current];
  }

  get level(): LogLevel {
    return this.current;
  }

  setLevel(level: LogLevel): void {
    this.current = level;
    this.threshold = ORDER[level];
  }
}

/** The request's fields as the JSON line names them; the trace comes from the active span, else the client's traceparent. */
function contextFields(ctx: RequestLogContext | undefined): Fields | undefined {
  const span = activeSpan();
  if (!ctx && !span) return undefined;
  const out: Fields = {};
  if (ctx) out.request_id = ctx.request_id;
  const traceId = span?.traceId ?? traceIdOf(ctx?.traceparent);
  if (traceId !== undefined) out.trace_id = traceId;
  if (span) out.span_id = span.spanId;
  if (ctx?.session !== undefined) out.session = ctx.session;
  if (ctx?.tool !== undefined) out.tool = ctx.tool;
  if (ctx?.principal !== undefined) out.principal = ctx.principal;
  return out;
}

/** JSON.stringify that never throws: errors become their message and stack, bigints strings; `fallback` when it still cannot (a cycle). */
function stringify(value: unknown, fallback: (why: string) => unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Error ? { message: v.message, ...(v.stack ? { stack: v.stack } : {}) } : v));
  } catch (err) {
    return JSON.stringify(fallback((err as Error).message));
  }
}

function jsonLine(time: string, level: LogLevel, message: string, ctx: Fields | undefined, fields: Fields | undefined): string {
  const line: Fields = { time, level, msg: message, ...ctx };
  // An event's own field never hides the line's: one called "level" (or a "session" other than the request's) is written as "field.level".
  if (fields) {
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (!Object.hasOwn(line, key)) line[key] = value;
      else if (line[key] !== value) line[`field.${key}`] = value;
    }
  }
  return stringify(line, (why) => ({ time, level, msg: message, ...ctx, unloggable: why })) + '\n';
}

/** Control characters (a newline that would start a forged line, a terminal escape) shown as \uXXXX. */
const escape = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function prettyLine(time: string, level: LogLevel, message: string, ctx: Fields | undefined, fields: Fields | undefined): string {
  const extra = fields && Object.keys(fields).length > 0 ? ' ' + stringify(fields, (why) => ({ unloggable: why })) : '';
  const about = ctx ? Object.entries(ctx).map(([k, v]) => ` ${k}=${escape(String(v))}`).join('') : '';
  return `${time} ${level.toUpperCase().padEnd(5)} ${escape(message)}${extra}${about}\n`;
}

class StructuredLogger implements EdgeLogger {
  constructor(
    readonly control: LogControl,
    private readonly bound: Fields | undefined,
  ) {}

  debug(message: string, fields?: Fields): void {
    if (this.control.threshold <= 10) this.line('debug', message, fields);
  }
  info(message: string, fields?: Fields): void {
    if (this.control.threshold <= 20) this.line('info', message, fields);
  }
  warn(message: string, fields?: Fields): void {
    if (this.control.threshold <= 30) this.line('warn', message, fields);
  }
  error(message: string, fields?: Fields): void {
    if (this.control.threshold <= 40) this.line('error', message, fields);
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= this.control.threshold && level !== 'silent';
  }

  child(fields: Fields): EdgeLogger {
    return new StructuredLogger(this.control, { ...this.bound, ...fields });
  }

  private line(level: LogLevel, message: string, fields: Fields | undefined): void {
    const all = this.bound ? { ...this.bound, ...fields } : fields;
    const ctx = contextFields(currentLogContext());
    const time = isoTime();
    const format = this.control.format === 'json' ? jsonLine : prettyLine;
    this.control.write(format(time, level, message, ctx, all));
  }
}

/** A logger that writes lines at or above `level` to `write` (stderr by default), as `format` says. */
export function createLogger(level: LogLevel = 'info', write: (line: string) => void = (l) => process.stderr.write(l), format: LogFormatChoice = 'pretty'): EdgeLogger {
  return new StructuredLogger(new LogControl(level, concreteFormat(format), write), undefined);
}
