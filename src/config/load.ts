import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../util/errors';
import { editDistance } from './env-names';
import { configKeys, configSchema, defaultConfig, envNameFor, type Config, type ConfigKey } from './schema';

/** Where a value came from, so an error can say which file, variable or flag to fix. */
type Origin = string;

export interface LoadOptions {
  /** The project's config/default.json (or another base file); skipped when absent. */
  defaultsFile?: string;
  /** `--config FILE` (or the file config/locate.ts found): must exist when given. */
  configFile?: string;
  /** What named configFile, for the error when it does not exist: --config unless told. */
  configOrigin?: string;
  /** Values that follow from which file was chosen (config/locate.ts presetsFor), applied before the file. */
  presets?: Partial<Record<ConfigKey, unknown>>;
  /** Usually process.env; only EDGESIGHT_* names are read. */
  env?: NodeJS.ProcessEnv;
  /** Command-line values by config key, already as text or typed values. */
  flags?: Partial<Record<ConfigKey, unknown>>;
}

export const projectRoot = path.resolve(__dirname, '..', '..', '..');
export const defaultConfigFile = path.join(projectRoot, 'config', 'default.json');

/**
 * Resolves the configuration: schema defaults, then config/default.json, then the presets and
 * --config FILE (or the file config/locate.ts found), then EDGESIGHT_* environment variables,
 * then command-line flags. The first value that the schema does not allow stops loading with a
 * ConfigError naming key, value, origin and rule.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const values: Record<string, unknown> = { ...defaultConfig() };
  const set = (key: ConfigKey, raw: unknown, origin: Origin, fromText: boolean) => {
    const field = configSchema[key];
    const candidate = fromText && typeof raw === 'string' ? field.fromText(raw) : raw;
    const checked = field.check(candidate);
    if (!checked.ok) {
      throw new ConfigError(`config: ${key} = ${shown(raw)} (from ${origin}) is not allowed: must be ${field.allowed}`);
    }
    values[key] = checked.value;
  };

  const defaultsFile = options.defaultsFile ?? defaultConfigFile;
  if (fs.existsSync(defaultsFile)) applyFile(defaultsFile, set);
  if (options.configFile !== undefined) {
    for (const [key, value] of Object.entries(options.presets ?? {})) set(key as ConfigKey, value, `the service's default with ${options.configFile}`, false);
    if (!fs.existsSync(options.configFile)) throw new ConfigError(`config: file ${options.configFile} (from ${options.configOrigin ?? '--config'}) does not exist`);
    applyFile(options.configFile, set);
  }
  const env = options.env ?? {};
  for (const key of configKeys) {
    const name = envNameFor(key);
    const text = env[name];
    if (text !== undefined) set(key, text, `environment ${name}`, true);
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (!isConfigKey(key)) throw new ConfigError(`config: unknown key '${key}' (from command line)${suggest(key)}`);
    set(key, value, `command line`, true);
  }
  return Object.freeze(values) as Config;
}

export function isConfigKey(key: string): key is ConfigKey {
  return Object.prototype.hasOwnProperty.call(configSchema, key);
}

function applyFile(file: string, set: (key: ConfigKey, raw: unknown, origin: Origin, fromText: boolean) => void): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config: cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw new ConfigError(`config: ${file} must hold a JSON object`);
  for (const [key, value] of flatten(parsed)) {
    if (!isConfigKey(key)) throw new ConfigError(`config: unknown key '${key}' in ${file}${suggest(key)}`);
    set(key, value, file, false);
  }
}

/** The most dots in a schema key: a path with as many that is not a key has no key below it. */
const deepestKey = Math.max(...configKeys.map((k) => k.split('.').length - 1));

/**
 * {"decision": {"threshold": 1}} -> [["decision.threshold", 1]]; a key may also be written dotted.
 * Descent stops where no schema key can lie below, so a file nested thousands of levels deep
 * yields one unknown key (refused by name) instead of exhausting the stack.
 */
export function flatten(obj: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const keyCouldLieBelow = key.split('.').length - 1 < deepestKey;
    if (isPlainObject(v) && !isConfigKey(key) && keyCouldLieBelow) out.push(...flatten(v, key));
    else out.push([key, v]);
  }
  return out;
}

/**
 * A refused value as an error shows it: scalars as JSON, cut short; objects and arrays by kind
 * (JSON.stringify of a deeply nested one throws RangeError, and a long one is no help on one line).
 */
function shown(raw: unknown): string {
  if (Array.isArray(raw)) return 'an array';
  if (isPlainObject(raw)) return 'an object';
  const text = JSON.stringify(raw) ?? String(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function suggest(key: string): string {
  const lower = key.toLowerCase();
  const near = configKeys.find((k) => k.toLowerCase() === lower || editDistance(k.toLowerCase(), lower) <= 2);
  return near ? ` (did you mean '${near}'?)` : '';
}

/** The resolved config as nested JSON (the shape of config/default.json). */
export function toNestedJson(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of configKeys) {
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = config[key];
  }
  return out;
}
