import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CameraDevice {
  /** The path to open: the stable /dev/v4l/by-id name when there is one. */
  path: string;
  /** The /dev/videoN node it points to. */
  node: string;
}

/**
 * Video devices on this machine, stable names first: /dev/v4l/by-id survives replugging and
 * reboots where /dev/videoN numbers can change. by-id names ending in -index0 are the capture
 * nodes; -index1 nodes of UVC cameras carry metadata only and are listed last.
 */
export function listCameras(devRoot = '/dev'): CameraDevice[] {
  const out: CameraDevice[] = [];
  const seen = new Set<string>();
  const byIdDir = path.join(devRoot, 'v4l', 'by-id');
  const byId = safeReaddir(byIdDir).sort((a, b) => Number(/index0$/.test(b)) - Number(/index0$/.test(a)) || a.localeCompare(b));
  for (const name of byId) {
    const link = path.join(byIdDir, name);
    let node: string;
    try {
      node = fs.realpathSync(link);
    } catch {
      continue;
    }
    seen.add(node);
    out.push({ path: link, node });
  }
  const nodes = safeReaddir(devRoot)
    .filter((n) => /^video\d+$/.test(n))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((n) => path.join(devRoot, n));
  for (const node of nodes) if (!seen.has(node)) out.push({ path: node, node });
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
