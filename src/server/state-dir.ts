import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config } from '../config/schema';

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

export function ensureStateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
