import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load';
import { unknownVariableWarnings } from '../config/env-names';
import { describeChoice, locateConfigFile, presetsFor, type ConfigFileChoice } from '../config/locate';
import type { Config, ConfigKey } from '../config/schema';
import { BACKEND_PREFERENCES, type BackendPreference } from '../config/backend-preference';
import { UsageError } from '../util/errors';
import { PRIORITY, stderrLine } from '../util/journal';
import { commandUsage, HelpShown } from './usage';

/** Options every command that reads the config understands; shortcuts map onto config keys. */
export const configOptions = {
  config: { type: 'string', short: 'c' },
  set: { type: 'string', multiple: true, short: 's' },
  source: { type: 'string' },
  model: { type: 'string', short: 'm' },
  backend: { type: 'string' },
  threshold: { type: 'string' },
  top: { type: 'string' },
  smoothing: { type: 'string' },
  'log-level': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  auth: { type: 'string' },
} as const;

const SHORTCUTS: Record<string, ConfigKey> = {
  source: 'source',
  model: 'model.path',
  backend: 'model.backend',
  threshold: 'decision.threshold',
  top: 'decision.topK',
  smoothing: 'decision.smoothing',
  'log-level': 'log.level',
  host: 'server.host',
  port: 'server.port',
  auth: 'server.auth',
};

type ParseArgsConfig = Parameters<typeof parseArgs>[0] & object;

/** A command's --backend value, checked (a command that loads a model without the full config). */
export function backendOption(command: string, value: string | undefined): BackendPreference {
  const preference = value ?? 'auto';
  if (!(BACKEND_PREFERENCES as readonly string[]).includes(preference)) throw new UsageError(`${command}: --backend must be one of ${BACKEND_PREFERENCES.join(', ')}, got '${preference}'`);
  return preference as BackendPreference;
}

/** Is help asked for? `--help` or `-h` anywhere before a `--` that ends the options. */
function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * parseArgs with errors turned into a UsageError that names the command. `--help` or `-h` prints
 * the command's usage and options to stdout and throws HelpShown, which the CLI ends with exit 0.
 */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O) {
  if (wantsHelp(argv)) {
    process.stdout.write(commandUsage(command, options as Parameters<typeof commandUsage>[1]) + '\n');
    throw new HelpShown(command);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.replace(/\. To specify a positional.*$/, '')} (see 'edgesight ${command} --help')`);
  }
}

export interface ResolvedConfig {
  config: Config;
  /** Which configuration file was read, and how it was found. */
  choice: ConfigFileChoice;
  /** EDGESIGHT_* variables that look like settings but are none (a typo), one line each. */
  warnings: string[];
}

/**
 * Resolves the config from defaults, the configuration file (--config, $EDGESIGHT_CONFIG, else
 * the first of /etc/edgesight/config.json and the user's that exists), EDGESIGHT_* and the
 * parsed flags.
 */
export function resolveConfig(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const flags: Partial<Record<ConfigKey, unknown>> = {};
  for (const item of (values.set as string[] | undefined) ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got '${item}'`);
    (flags as Record<string, unknown>)[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  for (const [flag, key] of Object.entries(SHORTCUTS)) {
    if (values[flag] !== undefined) flags[key] = values[flag];
  }
  const choice = locateConfigFile(values.config as string | undefined, env);
  const config = loadConfig({ configFile: choice.file, configOrigin: choice.origin, presets: presetsFor(choice.file, env), env, flags });
  return { config, choice, warnings: [...(choice.unreadable ?? []), ...unknownVariableWarnings(env)] };
}

/**
 * resolveConfig for a command, which says on stderr which configuration file it used: always
 * (the commands that act on the service: token, deploy, config, ...), only when it found one
 * (predict, whose stdout is its results), or never.
 */
export function configFromValues(values: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env, announce: 'always' | 'found' | 'never' = 'always'): Config {
  const { config, choice, warnings } = resolveConfig(values, env);
  for (const warning of warnings) process.stderr.write(stderrLine(PRIORITY.warning, `edgesight: warning: ${warning}`));
  if (announce === 'always' || (announce === 'found' && choice.file !== undefined)) process.stderr.write(`edgesight: ${describeChoice(choice)}\n`);
  return config;
}
