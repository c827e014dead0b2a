import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, errorMessage } from '../util/errors';

/** The service's configuration, as scripts/install-service.sh writes it and the unit reads it. */
export const SYSTEM_CONFIG_FILE = '/etc/edgesight/config.json';
/** The service's state directory: systemd's StateDirectory=edgesight for a system unit. */
export const SERVICE_STATE_DIR = '/var/lib/edgesight';
/** Replaces the search list (colon-separated; empty: search nowhere). Tests set it so that they never read this machine's /etc. */
export const SEARCH_VARIABLE = 'EDGESIGHT_CONFIG_SEARCH';
export const CONFIG_VARIABLE = 'EDGESIGHT_CONFIG';

/** The user's own configuration: $XDG_CONFIG_HOME/edgesight/config.json, else ~/.config/edgesight/config.json. */
export function userConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'edgesight', 'config.json');
}

/** Where a command looks when neither --config nor $EDGESIGHT_CONFIG names a file: the service's, then the user's. */
export function configSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env[SEARCH_VARIABLE];
  if (override !== undefined) return override.split(':').filter(Boolean);
  return [SYSTEM_CONFIG_FILE, userConfigFile(env)];
}

export interface ConfigFileChoice {
  /** The file to read; undefined: none (defaults and EDGESIGHT_* variables only). */
  file?: string;
  /** What chose it, as an error or the CLI's note says it: --config, $EDGESIGHT_CONFIG or the search. */
  origin: '--config' | '$EDGESIGHT_CONFIG' | 'search';
  /** The files looked at, in order (the search only). */
  searched: string[];
  /** Search entries this user may not look at (/etc/edgesight is 0750, group edgesight), passed over, one line each. */
  unreadable?: string[];
}

/**
 * The configuration file a command reads: --config FILE, else $EDGESIGHT_CONFIG, else the first
 * file of the search list that exists (see configSearchPath), else none. A file named by --config
 * or the variable must exist (loadConfig says so). A search entry this user may not look at
 * (/etc/edgesight is 0750, group edgesight) is passed over but reported in `unreadable`, for the
 * command to warn: `predict` as any user still works, and `token` says why it did not find the
 * service's token.
 */
export function locateConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, searched: string[] = configSearchPath(env)): ConfigFileChoice {
  if (flag !== undefined) return { file: flag, origin: '--config', searched: [] };
  if (env[CONFIG_VARIABLE]) return { file: env[CONFIG_VARIABLE], origin: '$EDGESIGHT_CONFIG', searched: [] };
  const unreadable: string[] = [];
  const found = (file?: string): ConfigFileChoice => ({ ...(file !== undefined ? { file } : {}), origin: 'search', searched, ...(unreadable.length ? { unreadable } : {}) });
  for (const candidate of searched) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(candidate);
      // A file that is there but may not be read is passed over like one in a closed folder.
      if (stat.isFile()) fs.accessSync(candidate, fs.constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      unreadable.push(`config: ${candidate} passed over: ${errorMessage(err)} (run as root or as a member of its group to use it, or pass --config FILE)`);
      continue;
    }
    if (!stat.isFile()) throw new ConfigError(`config: ${candidate} is not a file`);
    return found(candidate);
  }
  return found();
}

/**
 * Values that follow from which file was chosen, under what the file itself sets: the service's
 * configuration means the service's state directory (token, models), which systemd passes the
 * daemon as $STATE_DIRECTORY but a command typed in a shell does not get. `system` is a
 * parameter for tests.
 */
export function presetsFor(file: string | undefined, env: NodeJS.ProcessEnv = process.env, system = { configFile: SYSTEM_CONFIG_FILE, stateDir: SERVICE_STATE_DIR }): { 'state.dir'?: string } {
  if (file === undefined || env.STATE_DIRECTORY) return {};
  return path.resolve(file) === system.configFile ? { 'state.dir': system.stateDir } : {};
}

/** One line saying which file a command used (or that it used none, and where it looked). */
export function describeChoice(choice: ConfigFileChoice): string {
  if (choice.file !== undefined && choice.origin !== 'search') return `configuration: ${choice.file} (from ${choice.origin})`;
  if (choice.file !== undefined) return `configuration: ${choice.file}`;
  if (choice.searched.length === 0) return 'configuration: no file (none searched): defaults and EDGESIGHT_* variables';
  return `configuration: no file (looked for ${choice.searched.join(', ')}): defaults and EDGESIGHT_* variables`;
}
