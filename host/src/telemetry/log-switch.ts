// The log level and format while running: set from [log] at start, by an
// operator (POST /v1/log, an admin route like POST /v1/power), and from
// [log] again on SIGHUP, which clears the operator's level. A key [log]
// leaves out keeps what the logger was made with (the CLI's --log-level, an
// embedder's logger).
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../config/load.js';
import { readChoice } from '../gateway/body.js';
import type { RouteRegistry } from '../gateway/routes.js';
import type { LogSettings } from '../ops/settings.js';
import { HttpRefusal } from '../protocol/http-refusal.js';
import { HTTP_REFUSED } from '../protocol/jsonrpc.js';
import { concreteFormat, LOG_LEVELS, type LogControl, type LogFormat, type Logger, type LogLevel } from './log.js';

export interface LogStatus {
  level: LogLevel;
  format: LogFormat;
  /** Who set the level: "start" (command line or the logger given), "config" ([log]) or "operator" (POST /v1/log). */
  why: 'start' | 'config' | 'operator';
  /** When it was set (ISO). */
  since: string;
}

export class LogSwitch {
  private readonly start: { level: LogLevel; format: LogFormat } | undefined;
  private why: LogStatus['why'] = 'start';
  private since = new Date();

  constructor(private readonly log: Logger) {
    this.start = log.control ? { level: log.control.level, format: log.control.format } : undefined;
  }

  /** Applies [log] (at start and on SIGHUP): its keys, else what the logger started with. */
  configure(settings: LogSettings): void {
    const set = settings.level !== undefined || settings.format !== undefined;
    if (!this.start) {
      if (set) throw new ConfigError('[log] is set, but the gateway was given a logger of its own (GatewayOptions.logger): set the level and format on that logger, or remove [log].');
      return;
    }
    const control = this.control();
    control.setLevel(settings.level ?? this.start.level);
    control.format = settings.format !== undefined ? concreteFormat(settings.format) : this.start.format;
    this.set(set ? 'config' : 'start');
  }

  /** An operator's level, until the next SIGHUP. */
  setOperatorLevel(level: LogLevel): LogStatus {
    const control = this.control();
    const before = control.level;
    control.setLevel(level);
    this.set('operator');
    // Said at warn so that it shows at any level but silent: someone changed what the gateway tells.
    this.log.warn('log level set by an operator', { from: before, to: level });
    return this.status();
  }

  status(): LogStatus {
    const { level, format } = this.control();
    return { level, format, why: this.why, since: this.since.toISOString() };
  }

  private control(): LogControl {
    if (!this.log.control) throw new HttpRefusal(409, HTTP_REFUSED, 'This gateway logs through the logger its embedder gave it; set the level there.');
    return this.log.control;
  }

  private set(why: LogStatus['why']): void {
    this.why = why;
    this.since = new Date();
  }
}

/** GET /v1/log (level and format) and POST /v1/log {"level": ...} (an operator sets the level; an admin route). */
export function logRoutes(logs: LogSwitch, routes: RouteRegistry): void {
  routes.set('GET /v1/log', () => logs.status());
  routes.set('POST /v1/log', async (req: IncomingMessage) =>
    logs.setOperatorLevel(await readChoice(req, 'level', LOG_LEVELS, 'SIGHUP gives the level back to the config')),
  );
}
