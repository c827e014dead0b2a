import { promises as fsp } from 'node:fs';

/**
 * The CPU temperature in °C where Linux exposes it (a Pi's cpu-thermal zone, x86 packages),
 * else null. Read on request: it is one small file.
 */
export async function cpuTemperatureC(thermalRoot = '/sys/class/thermal'): Promise<number | null> {
  let zones: string[];
  try {
    zones = (await fsp.readdir(thermalRoot)).filter((z) => z.startsWith('thermal_zone')).sort();
  } catch {
    return null;
  }
  let fallback: number | null = null;
  for (const zone of zones) {
    try {
      const [type, temp] = await Promise.all([fsp.readFile(`${thermalRoot}/${zone}/type`, 'utf8'), fsp.readFile(`${thermalRoot}/${zone}/temp`, 'utf8')]);
      const celsius = Number(temp.trim()) / 1000;
      if (!Number.isFinite(celsius)) continue;
      if (/cpu|x86_pkg|soc|coretemp/i.test(type)) return Math.round(celsius * 10) / 10;
      fallback ??= Math.round(celsius * 10) / 10;
    } catch {
      // A zone without a readable temperature (some report EINVAL while a sensor sleeps).
    }
  }
  return fallback;
}
