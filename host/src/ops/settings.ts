// Reads the operations sections of the config ([analytics], [telemetry], [ui], [log]) into the
// options their parts take.
import type { AnalyticsSettings } from '../analytics/usage.js';
import type { EdgeConfig } from '../config/schema.js';
import type { LogFormatChoice, LogLevel } from '../telemetry/log.js';
import type { TelemetrySettings } from '../telemetry/telemetry.js';

/** [log]; a key left out is undefined: the logger keeps what it was given (the CLI's flags, an embedder's logger). */
export interface LogSettings {
  level?: LogLevel;
  format?: LogFormatChoice;
}

export interface OpsSettings {
  analytics: AnalyticsSettings;
  telemetry: TelemetrySettings;
  ui: { enabled: boolean };
  log: LogSettings;
}

const ALGORITHMS = { none: 'stored', zstd: 'zstd', lz4: 'lz4' } as const;

function resolveTelemetry(t: EdgeConfig['telemetry']): TelemetrySettings {
  return {
    enabled: t.enabled ?? false,
    endpoints: t.endpoints ?? [],
    exportIntervalMs: (t.export_interval_seconds ?? 10) * 1000,
    algorithm: ALGORITHMS[t.compression ?? 'lz4'],
    // 768 MiB: 24 h of a gateway at 50 calls/s, lz4-compressed, measured at ~130 bytes a call (docs/operations.md).
    bufferMaxBytes: t.buffer_max_bytes ?? 768 * 1024 * 1024,
  };
}

export function resolveOps(config: EdgeConfig): OpsSettings {
  const a = config.analytics;
  return {
    telemetry: resolveTelemetry(config.telemetry),
    ui: { enabled: config.ui.enabled },
    log: { ...(config.log.level !== undefined ? { level: config.log.level } : {}), ...(config.log.format !== undefined ? { format: config.log.format } : {}) },
    analytics: { enabled: a.enabled, retentionDays: a.retention_days, flushIntervalMs: a.flush_interval_ms, countTokens: a.count_tokens },
  };
}
