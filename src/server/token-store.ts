import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../util/errors';
import { SESSIONS_FILE } from './session-store';
import { ensureStateDir } from './state-dir';

export const TOKEN_FILE = 'token';

/** The token file's path and content; `created` is true when this call generated it. */
export interface StoredToken {
  file: string;
  token: string;
  created: boolean;
  /** Set when the file was readable by others and its mode was corrected. */
  fixedMode?: number;
}

/**
 * 32 random bytes, URL-safe: fits in a URL, a header and a cookie without escaping. One draw in
 * 64 would begin with '-', which a command line takes for an option (`--token -x...` is refused
 * as ambiguous), so such a draw is redrawn: 6 bits less than 256 do not matter.
 */
export function generateToken(): string {
  let token: string;
  do token = randomBytes(32).toString('base64url');
  while (token.startsWith('-'));
  return token;
}

/**
 * Reads the access token from STATE_DIR/token, generating it on first start. The file is
 * created exclusively with mode 0600 (a concurrent start cannot leave two different tokens),
 * and a file others can read has its mode corrected.
 */
export function loadOrCreateToken(stateDir: string): StoredToken {
  const file = path.join(stateDir, TOKEN_FILE);
  ensureStateDir(stateDir);
  try {
    fs.writeFileSync(file, generateToken() + '\n', { mode: 0o600, flag: 'wx' });
    return { file, token: readToken(file), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError(`state.dir: cannot write ${file}: ${(err as Error).message}`);
  }
  const mode = fs.statSync(file).mode & 0o777;
  let fixedMode: number | undefined;
  if (mode & 0o077) {
    fs.chmodSync(file, 0o600);
    fixedMode = mode;
  }
  return { file, token: readToken(file), created: false, fixedMode };
}

/** The stored token, if this machine's daemon has made one (for CLI commands that call it). */
export function storedToken(stateDir: string): string | undefined {
  const file = path.join(stateDir, TOKEN_FILE);
  return fs.existsSync(file) ? readToken(file) : undefined;
}

/**
 * Replaces the token: clients holding the old one, and every session signed in with it, stop
 * working once the daemon reads the new one (at its next start). The sessions file goes too;
 * a daemon still running on the old token may write it again, but it names the old token's
 * key and the next start ignores it.
 */
export function rotateToken(stateDir: string): StoredToken {
  const file = path.join(stateDir, TOKEN_FILE);
  ensureStateDir(stateDir);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, generateToken() + '\n', { mode: 0o600 });
  fs.renameSync(temp, file);
  fs.rmSync(path.join(stateDir, SESSIONS_FILE), { force: true });
  return { file, token: readToken(file), created: true };
}

function readToken(file: string): string {
  const token = fs.readFileSync(file, 'utf8').trim();
  if (token.length < 16) throw new ConfigError(`${file}: the access token is shorter than 16 characters; delete the file to generate a new one`);
  return token;
}
