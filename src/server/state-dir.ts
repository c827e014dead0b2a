import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config } from '../config/schema';
import { ConfigError, errorMessage } from '../util/errors';

/**
 * The daemon's private directory (token, later received models): state.dir, else systemd's
 * $STATE_DIRECTORY (StateDirectory=edgesight), else the XDG state home. Created 0700.
 */
export function resolveStateDir(config: Pick<Config, 'state.dir'>, env: NodeJS.ProcessEnv = process.env): string {
  if (config['state.dir']) return path.resolve(config['state.dir']);
  // systemd may pass several directories separated by ':'; ours is the first.
  const fromSystemd = env.STATE_DIRECTORY?.split(':')[0];
  if (fromSystemd) return fromSystemd;
  const xdg = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(xdg, 'edgesight');
}

/**
 * Creates the state directory if needed and proves it can be written (a file is created and
 * removed), so an unusable state.dir stops start-up with one line naming it. Throws ConfigError.
 */
export function ensureStateDir(dir: string): string {
  try {
    makeDirectories(dir);
  } catch (err) {
    throw new ConfigError(`state.dir: cannot create ${dir}: ${errorMessage(err)}`);
  }
  const probe = path.join(dir, `.write-test-${process.pid}`);
  try {
    fs.writeFileSync(probe, '', { mode: 0o600 });
    fs.unlinkSync(probe);
  } catch (err) {
    throw new ConfigError(`state.dir: ${dir} is not a writable directory: ${errorMessage(err)}`);
  }
  return dir;
}

/**
 * mkdir -p, one level at a time. Not fs.mkdirSync({recursive: true}): under /proc, mkdir of a
 * new name fails with ENOENT although the parent exists, and Node's recursive mkdir answers
 * ENOENT by creating the parent (EEXIST) and trying again, forever, inside one synchronous call
 * (100% CPU, no output, and the SIGTERM handler never gets to run).
 */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let at = dir; !fs.existsSync(at); at = path.dirname(at)) {
    missing.unshift(at);
    if (path.dirname(at) === at) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      // Another process may create the same directory between our check and our mkdir.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
