import { fork, type ChildProcess } from 'node:child_process';

export interface OnceInChildOptions {
  /** Killed past this, and the outcome says so. */
  timeoutMs: number;
  /** What the deadline's kill is reported as. */
  timeoutReason: string;
  /** 'advanced' lets typed arrays cross as they are. */
  serialization: 'json' | 'advanced';
  /**
   * Called once the child runs, for watches of the caller's own (memory, priority): `kill(reason)`
   * ends the child and reports that reason. Answers a function that stops the watch.
   */
  watch?: (child: ChildProcess, kill: (reason: string) => void) => () => void;
}

/** How a one-question child process ended. */
export type OnceInChildOutcome<A> =
  /** It answered (whatever happened to it after). */
  | { answer: A }
  /**
   * Ended by its deadline or a watch (`killedFor`: their reason), or it could not be started or
   * run ('error': `killedFor` is "could not be started: …" or "failed: …", for the caller to name the process).
   */
  | { killedFor: string; cause: 'deadline' | 'watch' | 'error' }
  /** Ended without an answer by itself, or killed from outside (SIGKILL: the kernel, most likely); `stderr`: its last line. */
  | { ended: { code: number | null; signal: NodeJS.Signals | null; stderr: string } };

/**
 * Forks `script`, sends it `request`, and resolves with its one answer or how it ended without
 * one. Never rejects. Debugger and test-runner flags are not passed on (execArgv is empty), and
 * only the end of its stderr is kept. Shared by the conversion process (engine/convert-in-child.ts)
 * and the candidate check (candidate-check.ts).
 */
export function runOnceInChild<A>(script: string, request: unknown, options: OnceInChildOptions): Promise<OnceInChildOutcome<A>> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = fork(script, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [], serialization: options.serialization });
    } catch (err) {
      return resolve({ killedFor: `could not be started: ${(err as Error).message}`, cause: 'error' });
    }
    let answer: A | undefined;
    let killedFor: string | undefined;
    let cause: 'deadline' | 'watch' | 'error' = 'watch';
    let stderrTail = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000)));
    const kill = (reason: string, why: typeof cause = 'watch') => {
      if (!killedFor) [killedFor, cause] = [reason, why];
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => kill(options.timeoutReason, 'deadline'), options.timeoutMs);
    const stopWatch = options.watch?.(child, kill);
    let settled = false;
    const settle = (outcome: OnceInChildOutcome<A>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      stopWatch?.();
      resolve(outcome);
    };
    child.once('message', (message) => (answer = message as A));
    // A process that could not be started emits no 'exit' after its 'error'.
    child.once('error', (err) => {
      kill(`failed: ${err.message}`, 'error');
      settle(answer !== undefined ? { answer } : { killedFor: killedFor!, cause });
    });
    child.once('exit', (code, signal) => {
      if (answer !== undefined) return settle({ answer });
      if (killedFor) return settle({ killedFor, cause });
      settle({ ended: { code, signal, stderr: stderrTail.trim().split('\n').pop()?.trim().slice(0, 300) ?? '' } });
    });
    child.send(request as object);
  });
}

/** "exit code 1" or "signal SIGKILL". */
export function howItEnded(ended: { code: number | null; signal: NodeJS.Signals | null }): string {
  return ended.signal ? `signal ${ended.signal}` : `exit code ${ended.code}`;
}
