import * as path from 'node:path';
import type { Config } from '../config/schema';
import { ConfigError } from '../util/errors';
import type { Logger } from '../util/logger';
import { Authenticator, sessionKeyId } from './auth';
import { ClientAddresses } from './client-address';
import { SESSIONS_FILE, SessionStore } from './session-store';
import { ensureStateDir, resolveStateDir } from './state-dir';
import { loadOrCreateToken } from './token-store';

export interface AuthSetup {
  auth: Authenticator;
  /** Logs how to open the dashboard once the port is known (the token only when just generated). */
  announce(urls: string[]): void;
}

/** Builds the authenticator server.auth asks for: a stored token, the configured password, or none. */
export function setupAuth(config: Config, log: Logger): AuthSetup {
  const mode = config['server.auth'];
  const addresses = new ClientAddresses(config['server.trustedProxies']);
  if (mode === 'none') {
    return {
      auth: new Authenticator('none', '', undefined, addresses),
      announce: (urls) => log.warn(`dashboard at ${urls[0]} with server.auth = none: anyone who can reach this port sees the camera`),
    };
  }
  if (mode === 'password') {
    const password = config['server.password'];
    if (password.length < 8) throw new ConfigError('server.password: server.auth = password needs a password of at least 8 characters (EDGESIGHT_SERVER_PASSWORD)');
    return {
      auth: new Authenticator('password', password, loadSessions(config, password, log), addresses),
      announce: (urls) => log.info(`dashboard at ${urls.join(' ')} (sign in with server.password)`),
    };
  }
  const stored = loadOrCreateToken(resolveStateDir(config));
  if (stored.fixedMode !== undefined) log.warn(`${stored.file} was readable by others (mode ${stored.fixedMode.toString(8)}); set to 600`);
  return {
    auth: new Authenticator('token', stored.token, loadSessions(config, stored.token, log), addresses),
    announce: (urls) => {
      // Like Jupyter: the one time the token appears in the log is when it was just created.
      if (stored.created) log.info(`dashboard access token created in ${stored.file}. Open the dashboard with it: ${urls.map((u) => `${u}?token=${stored.token}`).join(' ')}`);
      else log.info(`dashboard at ${urls.join(' ')} (token in ${stored.file}; 'edgesight token' prints it)`);
    },
  };
}

/** Sessions kept in the state directory, so signing in once lasts across restarts (30 days). */
function loadSessions(config: Config, secret: string, log: Logger): SessionStore {
  const file = path.join(ensureStateDir(resolveStateDir(config)), SESSIONS_FILE);
  const store = new SessionStore(sessionKeyId(secret), file, undefined, (err) => log.warn(`cannot keep sessions in ${file} (${err.message}); they end at the next restart`));
  store.load();
  return store;
}
