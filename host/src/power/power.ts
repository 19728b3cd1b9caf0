// Power management ([power]): low power mode and sleep on idle.
// Low power: the core's router in saver mode (upstreams' energy weights
// count), the background loops slowed down (queue delivery looks every 10 s,
// gathers new calls for as long and narrows every destination's window; the
// tool-pinning approval poll every 10 s), and the
// process's scheduling priority lowered. Sleep: after sleep_on_idle_ms with
// no calls, those loops stop and idle stdio upstream children are stopped;
// the next call wakes them (the first call pays the restart).
// The mode comes from the config, an operator (POST /v1/power) or, with
// power.auto, the battery and temperature read from sysfs.
import { getPriority, setPriority } from 'node:os';
import type { CoreRouter } from '../core/router.js';
import type { Logger } from '../telemetry/log.js';
import { autoReason, readPowerState, type AutoThresholds, type PowerReadings } from './sysfs.js';

export interface PowerSettings {
  lowPowerMode: boolean;
  /** 0: never sleeps. */
  sleepOnIdleMs: number;
  auto?: AutoThresholds & { sysfsRoot: string; pollMs: number };
}

export type PowerMode = 'normal' | 'low';

/** The gateway parts power management drives (the gateway supplies them). */
export interface PowerTargets {
  router: CoreRouter;
  /** The background loops: paced for low power, stopped for sleep. */
  loops: { pace(lowPower: boolean): void; sleep(): void; wake(): void };
  /** The stdio upstreams' children, stopped for sleep. */
  upstreams: {
    /** Stops the idle ones; resolves with how many stopped. */
    sleep(): Promise<number>;
    /** Whether one has a call in flight (or a child restarting): the gateway is not idle then. */
    busy(): boolean;
    /** The gateway woke: those that were not up when it fell asleep no longer stop once up. */
    wake(): void;
  };
  log: Logger;
}

export interface PowerStatus {
  mode: PowerMode;
  /** Why: "config", "operator", or the battery/temperature reading. */
  why: string;
  /** When the mode last changed (ISO 8601). */
  since: string;
  /** The process's scheduling priority (nice value) now. */
  priority: number;
  priority_problem?: string;
  sleep_on_idle_ms: number;
  asleep: boolean;
  asleep_since?: string;
  sleeps: number;
  auto?: PowerReadings & { battery_below_percent?: number; temperature_above_c?: number };
}

/** The nice value of the process in low power mode. */
export const LOW_POWER_NICE = 10;

export class PowerControl {
  private settings: PowerSettings;
  /** Set by an operator; wins over the config and the sensors until cleared ("auto"). */
  private override: PowerMode | undefined;
  private autoWhy: string | undefined;
  private readings: PowerReadings = {};
  private mode: PowerMode = 'normal';
  private why = 'default';
  private since = Date.now();
  private readonly basePriority = getPriority();
  private priorityProblem: string | undefined;
  private lastCallAt = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private autoTimer: NodeJS.Timeout | undefined;
  private asleepSince: number | undefined;
  private sleeps = 0;
  private closed = false;

  /** Nothing runs until `configure` (the gateway calls it once its parts are started). */
  constructor(
    settings: PowerSettings,
    private readonly targets: PowerTargets,
  ) {
    this.settings = settings;
  }

  /** Applies a (new) [power] section: at start and on config reload. An operator's override is cleared. */
  configure(settings: PowerSettings): void {
    this.settings = settings;
    this.override = undefined;
    clearInterval(this.autoTimer);
    this.autoTimer = undefined;
    this.autoWhy = undefined;
    if (settings.auto) {
      this.autoTimer = setInterval(() => this.checkSensors(), settings.auto.pollMs).unref();
      this.readings = readPowerState(settings.auto.sysfsRoot);
      this.autoWhy = autoReason(this.readings, settings.auto, false);
    }
    this.decide(true);
    this.touch();
  }

  /** An operator sets the mode ("auto" gives it back to the config and the sensors). */
  setOperatorMode(mode: PowerMode | 'auto'): PowerStatus {
    this.override = mode === 'auto' ? undefined : mode;
    this.decide();
    return this.status();
  }

  /** Reads the sensors now (also every auto.poll_seconds). */
  checkSensors(): void {
    const auto = this.settings.auto;
    if (!auto) return;
    this.readings = readPowerState(auto.sysfsRoot);
    this.autoWhy = autoReason(this.readings, auto, this.autoWhy !== undefined);
    this.decide();
  }

  /** A call came in: wakes the gateway if it sleeps, and restarts the idle count. */
  touch(): void {
    this.lastCallAt = Date.now();
    if (this.asleepSince !== undefined) this.wake();
    if (this.settings.sleepOnIdleMs > 0 && this.idleTimer === undefined && !this.closed) this.armIdle(this.settings.sleepOnIdleMs);
    if (this.settings.sleepOnIdleMs === 0) this.disarmIdle();
  }

  status(): PowerStatus {
    const auto = this.settings.auto;
    return {
      mode: this.mode,
      why: this.why,
      since: new Date(this.since).toISOString(),
      priority: getPriority(),
      ...(this.priorityProblem ? { priority_problem: this.priorityProblem } : {}),
      sleep_on_idle_ms: this.settings.sleepOnIdleMs,
      asleep: this.asleepSince !== undefined,
      ...(this.asleepSince !== undefined ? { asleep_since: new Date(this.asleepSince).toISOString() } : {}),
      sleeps: this.sleeps,
      ...(auto ? { auto: { ...this.readings, battery_below_percent: auto.batteryBelowPercent, temperature_above_c: auto.temperatureAboveC } } : {}),
    };
  }

  close(): void {
    this.closed = true;
    this.disarmIdle();
    clearInterval(this.autoTimer);
  }

  /** Settles the mode; `reapply` applies it even when unchanged (a new config, parts started since). */
  private decide(reapply = false): void {
    const [mode, why]: [PowerMode, string] =
      this.override !== undefined
        ? [this.override, 'operator']
        : this.autoWhy !== undefined
          ? ['low', this.autoWhy]
          : this.settings.lowPowerMode
            ? ['low', 'config']
            : ['normal', 'config'];
    const changed = mode !== this.mode;
    this.why = why;
    if (!changed) {
      if (reapply) this.apply();
      return;
    }
    this.mode = mode;
    this.since = Date.now();
    this.apply();
    this.targets.log.info(`power: ${mode === 'low' ? 'low power mode' : 'normal mode'}`, { why });
  }

  private apply(): void {
    const low = this.mode === 'low';
    this.targets.router.setPowerMode(low ? 'saver' : 'normal');
    if (this.asleepSince === undefined) this.targets.loops.pace(low);
    const nice = low ? Math.max(LOW_POWER_NICE, this.basePriority) : this.basePriority;
    if (nice !== getPriority()) this.setNice(nice);
  }

  /** Raising the priority back needs CAP_SYS_NICE (or RLIMIT_NICE); without it, it stays lowered and says so. */
  private setNice(nice: number): void {
    try {
      setPriority(nice);
      this.priorityProblem = undefined;
    } catch (err) {
      this.priorityProblem = `could not set the scheduling priority to ${nice} (${(err as NodeJS.ErrnoException).code ?? String(err)}): raising it back needs CAP_SYS_NICE or a higher RLIMIT_NICE; it stays ${getPriority()} until restart`;
      this.targets.log.warn(`power: ${this.priorityProblem}`);
    }
  }

  private armIdle(afterMs: number): void {
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const idleFor = Date.now() - this.lastCallAt;
      // A call longer than the idle time is not idleness: asleep, its upstream would keep running
      // (it refuses to stop mid-call) with nothing left to put it to sleep later.
      if (this.targets.upstreams.busy()) this.armIdle(this.settings.sleepOnIdleMs);
      else if (idleFor >= this.settings.sleepOnIdleMs) void this.sleep();
      else this.armIdle(this.settings.sleepOnIdleMs - idleFor);
    }, afterMs);
    this.idleTimer.unref();
  }

  private disarmIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Stops the loops and idle children; nothing runs until the next call. */
  async sleep(): Promise<void> {
    if (this.asleepSince !== undefined || this.closed) return;
    this.disarmIdle();
    this.asleepSince = Date.now();
    this.sleeps += 1;
    this.targets.loops.sleep();
    const stopped = await this.targets.upstreams.sleep();
    this.targets.log.info('power: asleep (no calls for power.sleep_on_idle_ms)', { upstreams_stopped: stopped });
  }

  private wake(): void {
    const sleptMs = Date.now() - (this.asleepSince ?? Date.now());
    this.asleepSince = undefined;
    this.targets.upstreams.wake();
    this.targets.loops.wake();
    this.targets.loops.pace(this.mode === 'low');
    this.targets.log.debug('power: awake', { slept_ms: sleptMs });
  }
}

/** The power lines of GET /metrics (Prometheus text). */
export function powerMetrics(s: PowerStatus): string {
  return [
    '# HELP mcp_edge_power_low_power 1 in low power mode, 0 in normal mode.',
    '# TYPE mcp_edge_power_low_power gauge',
    `mcp_edge_power_low_power{why="${s.why.replace(/["\\\n]/g, '_')}"} ${s.mode === 'low' ? 1 : 0}`,
    '# HELP mcp_edge_power_mode_since_seconds When the power mode last changed (Unix time).',
    '# TYPE mcp_edge_power_mode_since_seconds gauge',
    `mcp_edge_power_mode_since_seconds ${Math.floor(Date.parse(s.since) / 1000)}`,
    '# HELP mcp_edge_power_asleep 1 while asleep after power.sleep_on_idle_ms without calls.',
    '# TYPE mcp_edge_power_asleep gauge',
    `mcp_edge_power_asleep ${s.asleep ? 1 : 0}`,
    '# HELP mcp_edge_power_sleeps_total Times the gateway went to sleep.',
    '# TYPE mcp_edge_power_sleeps_total counter',
    `mcp_edge_power_sleeps_total ${s.sleeps}`,
    '# HELP mcp_edge_power_priority The process scheduling priority (nice).',
    '# TYPE mcp_edge_power_priority gauge',
    `mcp_edge_power_priority ${s.priority}`,
    '',
  ].join('\n');
}
