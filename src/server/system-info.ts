import { promises as fsp } from 'node:fs';

/**
 * The CPU temperature in °C where Linux exposes it (a Pi's cpu-thermal zone, x86 packages),
 * else null. Read on request: it is one small file.
 */
/** The CPU's temperature and the thermal zone's type it was read from (cpu-thermal on a Pi), or null where there is none. */
export async function cpuTemperature(thermalRoot = '/sys/class/thermal'): Promise<{ celsius: number; sensor: string } | null> {
  let zones: string[];
  try {
    zones = (await fsp.readdir(thermalRoot)).filter((z) => z.startsWith('thermal_zone')).sort();
  } catch {
    return null;
  }
  let fallback: { celsius: number; sensor: string } | null = null;
  for (const zone of zones) {
    try {
      const [type, temp] = await Promise.all([fsp.readFile(`${thermalRoot}/${zone}/type`, 'utf8'), fsp.readFile(`${thermalRoot}/${zone}/temp`, 'utf8')]);
      const celsius = Number(temp.trim()) / 1000;
      if (!Number.isFinite(celsius)) continue;
      const reading = { celsius: Math.round(celsius * 10) / 10, sensor: type.trim() };
      if (/cpu|x86_pkg|soc|coretemp/i.test(type)) return reading;
      fallback ??= reading;
    } catch {
      // A zone without a readable temperature (some report EINVAL while a sensor sleeps).
    }
  }
  return fallback;
}
