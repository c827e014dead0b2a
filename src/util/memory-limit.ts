import * as fs from 'node:fs';
import * as path from 'node:path';

/** The memory limit the kernel enforces on this process's cgroup (systemd's MemoryMax=, a container's --memory). */
export interface MemoryLimit {
  bytes: number;
  /** The file that holds it, e.g. /sys/fs/cgroup/system.slice/edgesight.service/memory.max. */
  file: string;
  version: 'cgroup v2' | 'cgroup v1';
}

export interface CgroupLocations {
  /** /proc/self/cgroup (another file in tests). */
  procSelfCgroup?: string;
  /** Where cgroup file systems are mounted: /sys/fs/cgroup (a temporary folder in tests). */
  root?: string;
}

/**
 * Past this a "limit" means none: cgroup v1 writes 9223372036854771712 (the largest page count
 * times the page size) for unlimited, and no machine has 4 EiB.
 */
const UNLIMITED = 2 ** 62;

/**
 * The memory limit on this process, or undefined when there is none: the smallest limit on its
 * memory cgroup and the cgroups above it (a limit on a parent slice binds its children too).
 * cgroup v2 (`0::/path` in /proc/self/cgroup, memory.max; "max" is none) and cgroup v1 (the
 * `memory` hierarchy, memory.limit_in_bytes) are both read, so that a hybrid system (v2 mounted
 * beside v1 controllers, as on this kind of machine) answers too. A cgroup path that is not
 * visible under the mount (a container with its own cgroup namespace or mount) is read from the
 * mount's top, which is then the container's own cgroup.
 */
export function readMemoryLimit(where: CgroupLocations = {}): MemoryLimit | undefined {
  const root = where.root ?? '/sys/fs/cgroup';
  let text: string;
  try {
    text = fs.readFileSync(where.procSelfCgroup ?? '/proc/self/cgroup', 'utf8');
  } catch {
    return undefined; // not Linux, or /proc hidden
  }
  let tightest: MemoryLimit | undefined;
  const consider = (limit: MemoryLimit | undefined) => {
    if (limit && (!tightest || limit.bytes < tightest.bytes)) tightest = limit;
  };
  for (const line of text.split('\n')) {
    // hierarchy-id:controllers:path; the path may itself hold colons.
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers, cgroupPath] = match;
    if (id === '0' && controllers === '') consider(smallestUpward(root, cgroupPath, 'memory.max', 'cgroup v2'));
    else if (controllers.split(',').includes('memory')) consider(smallestUpward(path.join(root, 'memory'), cgroupPath, 'memory.limit_in_bytes', 'cgroup v1'));
  }
  return tightest;
}

/**
 * The memory limit systemd holds a running unit to (MemoryMax=), read from outside the unit: what
 * `edgesight doctor` started from a shell reports for the service. Undefined when the unit's
 * cgroup does not exist (the service is not running) or nothing up its tree limits it.
 */
export function readUnitMemoryLimit(unit: string, where: Pick<CgroupLocations, 'root'> = {}): MemoryLimit | undefined {
  const root = where.root ?? '/sys/fs/cgroup';
  const cgroupPath = `/system.slice/${unit}`;
  const v2 = fs.existsSync(path.join(root, cgroupPath)) ? smallestUpward(root, cgroupPath, 'memory.max', 'cgroup v2') : undefined;
  const v1Mount = path.join(root, 'memory');
  const v1 = fs.existsSync(path.join(v1Mount, cgroupPath)) ? smallestUpward(v1Mount, cgroupPath, 'memory.limit_in_bytes', 'cgroup v1') : undefined;
  return v1 && (!v2 || v1.bytes < v2.bytes) ? v1 : v2;
}

/** The smallest limit in `file` from the process's cgroup up to the mount's top. */
function smallestUpward(mount: string, cgroupPath: string, file: string, version: MemoryLimit['version']): MemoryLimit | undefined {
  let dir = path.join(mount, cgroupPath);
  if (!isInside(mount, dir) || !fs.existsSync(dir)) dir = mount;
  let tightest: MemoryLimit | undefined;
  for (;;) {
    const bytes = limitIn(path.join(dir, file));
    if (bytes !== undefined && (!tightest || bytes < tightest.bytes)) tightest = { bytes, file: path.join(dir, file), version };
    if (dir === mount || !isInside(mount, dir)) break;
    dir = path.dirname(dir);
  }
  return tightest;
}

function isInside(mount: string, dir: string): boolean {
  const relative = path.relative(mount, dir);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** A limit file's value in bytes; undefined for none ("max", unlimited, missing, unreadable). */
function limitIn(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!/^\d+$/.test(text)) return undefined; // "max"
  const bytes = Number(text);
  return bytes > 0 && bytes < UNLIMITED ? bytes : undefined;
}
