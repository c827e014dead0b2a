import pino, { type Logger } from 'pino';
import { priorityOfLevel, stderrIsJournal, withPriority } from './journal';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * The one logger. Components take a child (`logger.child({ component: 'capture' })`).
 * Logs go to stderr so that commands like `predict --json` keep stdout for their results.
 * JSON lines for machines; one readable line per event for a person at a terminal (format auto
 * picks by whether stderr is a TTY). Under journald (stderr is the service's journal stream)
 * every line starts with its syslog priority (`<4>` for warn, ...), so `journalctl -p warning`
 * filters by level, and auto means readable lines without a clock (journald adds time and
 * unit); json still gives JSON. Secrets are redacted.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'auto', env: NodeJS.ProcessEnv = process.env): Logger {
  const journal = stderrIsJournal(env);
  const readable = format === 'pretty' || (format === 'auto' && (journal || process.stderr.isTTY === true));
  const destination = readable ? readableStream(!journal, journal) : journal ? journalJsonStream() : pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level,
      base: undefined,
      // Secrets that could reach a log line through an object (a handshake, request headers).
      redact: {
        paths: ['token', '*.token', 'password', '*.password', 'auth.token', 'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', 'cookie', '*.cookie', 'server.password', '["server.password"]', 'secret', '*.secret', '["mqtt.password"]', '["webhooks.secret"]'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** pino writes `{"level":N,...` first (base is undefined), so the level is read without parsing the line. */
const LEADING_LEVEL = /^\{"level":(\d+)/;

/** pino's JSON lines as they are, each with its journald priority in front. */
function journalJsonStream(): { write(line: string): void } {
  return {
    write(line: string) {
      const level = Number(LEADING_LEVEL.exec(line)?.[1] ?? 30);
      process.stderr.write(withPriority(priorityOfLevel(level), line));
    },
  };
}

/**
 * Formats pino's JSON lines as "12:00:01 info  [capture] message key=value ..." (the clock left
 * out for journald, which stamps each line itself; the priority put in front for it).
 */
function readableStream(clock: boolean, priority: boolean): { write(line: string): void } {
  return {
    write(line: string) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        process.stderr.write(line);
        return;
      }
      const { level, time, msg, component, ...rest } = entry;
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const where = component ? `[${component}] ` : '';
      const when = clock ? `${new Date(Number(time)).toTimeString().slice(0, 8)} ` : '';
      const text = `${when}${(LEVEL_NAMES[Number(level)] ?? String(level)).padEnd(5)} ${where}${msg ?? ''}${fields ? '  ' + fields : ''}\n`;
      process.stderr.write(priority ? withPriority(priorityOfLevel(Number(level)), text) : text);
    },
  };
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
