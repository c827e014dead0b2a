import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where a cgroup v1 memory controller is mounted on this kind of machine (and on many others). */
export const V1_MEMORY_MOUNT = '/sys/fs/cgroup/memory';

/**
 * A cgroup v1 memory cgroup made for one test or measurement: the kernel enforces its limit on
 * every process moved into it (and their children), as systemd's MemoryMax does for the unit.
 */
export class MemoryCgroup {
  private constructor(readonly dir: string) {}

  /** The cgroup, or why it cannot be made here (not root, no writable v1 memory controller). */
  static create(name: string, limitBytes?: number): MemoryCgroup | { unavailable: string } {
    const dir = path.join(V1_MEMORY_MOUNT, name);
    try {
      fs.accessSync(path.join(V1_MEMORY_MOUNT, 'cgroup.procs'), fs.constants.W_OK);
      fs.mkdirSync(dir);
    } catch (err) {
      return { unavailable: `no writable cgroup v1 memory controller at ${V1_MEMORY_MOUNT} (${(err as Error).message})` };
    }
    const group = new MemoryCgroup(dir);
    try {
      if (limitBytes !== undefined) fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
    } catch (err) {
      group.removeNow();
      return { unavailable: `cannot set memory.limit_in_bytes in ${dir} (${(err as Error).message})` };
    }
    return group;
  }

  /** Write a pid here to move that process in (the shell wrapper in spawnDaemon does it for itself before exec). */
  get procsFile(): string {
    return path.join(this.dir, 'cgroup.procs');
  }

  read(file: string): string {
    return fs.readFileSync(path.join(this.dir, file), 'utf8').trim();
  }

  get limitBytes(): number {
    return Number(this.read('memory.limit_in_bytes'));
  }

  /** Charged now: resident memory and page cache (which the kernel reclaims before it kills). */
  get usageBytes(): number {
    return Number(this.read('memory.usage_in_bytes'));
  }

  get maxUsageBytes(): number {
    return Number(this.read('memory.max_usage_in_bytes'));
  }

  resetMaxUsage(): void {
    fs.writeFileSync(path.join(this.dir, 'memory.max_usage_in_bytes'), '0');
  }

  /** Processes the kernel's OOM killer ended in this cgroup (kernels since 4.19). */
  get oomKills(): number {
    const match = /^oom_kill (\d+)/m.exec(this.read('memory.oom_control'));
    return match ? Number(match[1]) : 0;
  }

  /** `rss` and `cache` of memory.stat, in bytes. */
  stat(): { rss: number; cache: number } {
    const text = this.read('memory.stat');
    const field = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { rss: field('rss'), cache: field('cache') };
  }

  pids(): number[] {
    return this.read('cgroup.procs').split('\n').filter(Boolean).map(Number);
  }

  /** Removes the cgroup once its processes have gone (a cgroup with members cannot be removed). */
  async remove(waitMs = 10_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (this.pids().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.removeNow();
  }

  private removeNow(): void {
    try {
      fs.rmdirSync(this.dir);
    } catch {
      // members still in it: left for the operator to see, rather than killed here
    }
  }
}

/**
 * Resident memory of a process from /proc/PID/status (VmRSS, in kB whatever the page size);
 * undefined once it has gone.
 */
export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Child pids of a process, from every thread's children list (a fork from a worker thread is listed there). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        out.push(...fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').split(' ').filter(Boolean).map(Number));
      } catch {
        // the thread ended between the listing and the read
      }
    }
  } catch {
    // the process has gone
  }
  return out;
}

/** The process's own RSS and the sum over all its descendants (the model check child among them). */
export function treeRss(pid: number): { self: number; children: number } {
  const self = rssOf(pid) ?? 0;
  let children = 0;
  const queue = childrenOf(pid);
  while (queue.length) {
    const next = queue.pop()!;
    children += rssOf(next) ?? 0;
    queue.push(...childrenOf(next));
  }
  return { self, children };
}
