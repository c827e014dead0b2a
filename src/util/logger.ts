import pino, { type Logger } from 'pino';

export type { Logger };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * The one logger. Components take a child (`logger.child({ component: 'capture' })`).
 * Logs go to stderr so that commands like `predict --json` keep stdout for their results.
 * JSON lines for journald and machines; one readable line per event for a person at a
 * terminal (format auto picks by whether stderr is a TTY). Secrets are redacted.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'auto'): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
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
    pretty ? prettyStream() : pino.destination({ fd: 2, sync: true }),
  );
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Formats pino's JSON lines as "12:00:01 info  [capture] message key=value ...". */
function prettyStream(): { write(line: string): void } {
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
      const clock = new Date(Number(time)).toTimeString().slice(0, 8);
      const fields = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const where = component ? `[${component}] ` : '';
      process.stderr.write(`${clock} ${(LEVEL_NAMES[Number(level)] ?? String(level)).padEnd(5)} ${where}${msg ?? ''}${fields ? '  ' + fields : ''}\n`);
    },
  };
}

/** A logger that drops everything: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
