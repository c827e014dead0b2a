import { resolveStateDir } from '../server/state-dir';
import { storedToken } from '../server/token-store';
import { InputFileError, UsageError } from '../util/errors';
import { configFromValues } from './options';

/** Options of the commands that talk to a running daemon over HTTP. */
export const remoteOptions = {
  to: { type: 'string', short: 't' },
  token: { type: 'string' },
  config: { type: 'string', short: 'c' },
  set: { type: 'string', multiple: true, short: 's' },
} as const;

export interface Remote {
  base: string;
  headers: Record<string, string>;
}

/**
 * Where the daemon is and how to prove access: --to (default this machine's daemon on
 * server.port), --token, else $EDGESIGHT_TOKEN, else the token in this machine's state directory.
 */
export function resolveRemote(values: { to?: string; token?: string; config?: string; set?: string[] }): Remote {
  const config = configFromValues({ config: values.config, set: values.set });
  const base = (values.to ?? `http://127.0.0.1:${config['server.port']}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(base)) throw new UsageError(`--to must be the daemon's address, such as http://raspberrypi.local:8080 (got ${values.to})`);
  const token = values.token ?? process.env.EDGESIGHT_TOKEN ?? storedToken(resolveStateDir(config));
  return { base, headers: token ? { Authorization: `Bearer ${token}` } : {} };
}

/** Sends a request and returns the parsed JSON body, or throws with the daemon's own error message. */
export async function callDaemon(remote: Remote, route: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(remote.base + route, { ...init, headers: { ...remote.headers, ...(init.headers as Record<string, string> | undefined) } });
  } catch (err) {
    throw new InputFileError(remote.base, `cannot reach edgesight there: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}`);
  }
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: text.slice(0, 200) };
  }
  if (res.status === 401) body.error = `${body.error ?? 'unauthorized'} (pass --token, or set EDGESIGHT_TOKEN; 'edgesight token' on the device prints it)`;
  return { status: res.status, body };
}
