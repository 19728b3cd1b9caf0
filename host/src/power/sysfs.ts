// Battery and temperature, read from Linux sysfs where the machine has them
// (/sys/class/power_supply/*/capacity and status, /sys/class/thermal/
// thermal_zone*/temp), and the decision to go to low power on them. The root
// is configurable (power.auto.sysfs_root) so tests can use a fake tree.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PowerReadings {
  /** Lowest capacity (percent) among batteries that are discharging; undefined without one. */
  batteryPercent?: number;
  /** Highest temperature among the thermal zones, degrees C; undefined without one. */
  temperatureC?: number;
}

export interface AutoThresholds {
  /** Low power when a discharging battery is below this percent. */
  batteryBelowPercent?: number;
  /** Low power when a thermal zone is above this temperature (C). */
  temperatureAboveC?: number;
  /** Back to normal only past the threshold by this much (percent points, degrees): no flapping. */
  hysteresis: number;
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

const entries = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/** What the sysfs tree under `root` says now; missing files mean "not known". */
export function readPowerState(root: string): PowerReadings {
  const out: PowerReadings = {};
  const supplies = join(root, 'class', 'power_supply');
  for (const name of entries(supplies)) {
    const type = readText(join(supplies, name, 'type'));
    const capacity = Number(readText(join(supplies, name, 'capacity')));
    const status = readText(join(supplies, name, 'status'));
    // Only a battery that is running the machine counts: a charging one is on mains.
    if ((type !== undefined && type !== 'Battery') || !Number.isFinite(capacity) || status !== 'Discharging') continue;
    out.batteryPercent = Math.min(out.batteryPercent ?? Infinity, capacity);
  }
  const thermal = join(root, 'class', 'thermal');
  for (const name of entries(thermal).filter((n) => n.startsWith('thermal_zone'))) {
    const milli = Number(readText(join(thermal, name, 'temp')));
    if (Number.isFinite(milli) && readText(join(thermal, name, 'temp')) !== undefined) out.temperatureC = Math.max(out.temperatureC ?? -Infinity, milli / 1000);
  }
  return out;
}

/**
 * Why the readings call for low power, or undefined when they do not.
 * `wasLow`: the last decision was low power; leaving it then needs the
 * reading past the threshold by the hysteresis.
 */
export function autoReason(readings: PowerReadings, t: AutoThresholds, wasLow: boolean): string | undefined {
  const margin = wasLow ? t.hysteresis : 0;
  const { batteryPercent: battery, temperatureC: temp } = readings;
  if (t.batteryBelowPercent !== undefined && battery !== undefined && battery < t.batteryBelowPercent + margin) {
    return `battery at ${battery}% (discharging), below ${t.batteryBelowPercent}%`;
  }
  if (t.temperatureAboveC !== undefined && temp !== undefined && temp > t.temperatureAboveC - margin) {
    return `temperature at ${temp.toFixed(1)} C, above ${t.temperatureAboveC} C`;
  }
  return undefined;
}
