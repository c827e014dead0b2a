import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './fixtures';

/** `edgesight run` as a separate process, as systemd or a user starts it, with its stderr lines. */
export interface SpawnedDaemon {
  child: ChildProcess;
  /** stderr, one entry per line (JSON log lines are kept as text). */
  lines: string[];
  /** Resolves with the first stderr line matching `pattern`; rejects on timeout or exit. */
  waitForLine(pattern: RegExp, ms: number): Promise<string>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export interface SpawnOptions {
  /** More environment variables (NODE_OPTIONS, MALLOC_ARENA_MAX as the unit sets them). */
  env?: Record<string, string>;
  /**
   * A cgroup's cgroup.procs file: the daemon is started inside that cgroup (a shell writes its
   * own pid there, then execs node), so that all its memory, from the first page, is charged there.
   */
  cgroupProcs?: string;
}

export function spawnDaemon(args: string[], options: SpawnOptions = {}): SpawnedDaemon {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', EDGESIGHT_CONFIG_SEARCH: '', ...options.env };
  const command = [process.execPath, cliPath, 'run', ...args];
  const child = options.cgroupProcs
    ? spawn('/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', options.cgroupProcs, ...command], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let buffer = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    for (const listener of listeners) listener();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForLine = (pattern: RegExp, ms: number) =>
    new Promise<string>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`${why} waiting for ${pattern}; stderr so far:\n${lines.join('\n')}`));
      const check = () => {
        const found = lines.find((l) => pattern.test(l));
        if (found === undefined) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => (done(), fail(`timed out after ${ms} ms`)), ms);
      const onExit = () => setImmediate(() => (check(), done(), fail('the daemon exited')));
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
      };
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return { child, lines, waitForLine, exited, stop };
}
