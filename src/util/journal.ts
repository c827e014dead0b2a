import * as fs from 'node:fs';

/**
 * Is stderr connected to journald? systemd sets JOURNAL_STREAM to the device:inode of the stream
 * it gives the service (systemd.exec(5)). A child whose stderr was redirected elsewhere inherits
 * the variable but not the stream, so the numbers are compared with what fd 2 really is, as
 * sd_journal_stream_fd(3) advises: a prefix written into a file or pipe would only be noise.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  const [dev, ino] = stream.split(':');
  try {
    const st = fs.fstatSync(2, { bigint: true });
    return String(st.dev) === dev && String(st.ino) === ino;
  } catch {
    return false;
  }
}

/** syslog priorities (sd-daemon(3)): what `journalctl -p` filters on. */
export const PRIORITY = { crit: 2, err: 3, warning: 4, info: 6, debug: 7 } as const;

/** pino's level numbers to syslog priorities: fatal 2, error 3, warn 4, info 6, debug and trace 7. */
export function priorityOfLevel(level: number): number {
  if (level >= 60) return PRIORITY.crit;
  if (level >= 50) return PRIORITY.err;
  if (level >= 40) return PRIORITY.warning;
  if (level >= 30) return PRIORITY.info;
  return PRIORITY.debug;
}

/**
 * `text` with the sd-daemon `<N>` prefix on each of its lines (journald reads the prefix of every
 * line it receives, and a line without one gets the default priority, info).
 */
export function withPriority(priority: number, text: string): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body
    .split('\n')
    .map((line) => `<${priority}>${line}`)
    .join('\n') + '\n';
}

let journal: boolean | undefined;

/**
 * A line for stderr outside the logger (the CLI's one-line errors and warnings), with its
 * priority when journald reads stderr, so that `journalctl -p err` shows why a start failed.
 */
export function stderrLine(priority: number, text: string): string {
  journal ??= stderrIsJournal();
  return journal ? withPriority(priority, text) : text.endsWith('\n') ? text : text + '\n';
}
