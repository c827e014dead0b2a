import { flatten, isConfigKey, isPlainObject, suggest } from '../config/load';
import { configSchema, type Config } from '../config/schema';
import { SettingsError } from '../util/errors';
import type { Pipeline } from './pipeline';

/** The config keys that can change while the daemon runs (dashboard, PATCH /api/settings). */
export const RUNTIME_SETTING_KEYS = [
  'decision.threshold',
  'decision.topK',
  'decision.smoothing',
  'decision.window',
  'decision.votes',
  'overlay.enabled',
  'stream.maxFps',
  'stream.jpegQuality',
] as const;

export type RuntimeSettingKey = (typeof RUNTIME_SETTING_KEYS)[number];
export type RuntimeSettings = { -readonly [K in RuntimeSettingKey]: Config[K] };

/**
 * Checks a settings change against the same schema as the config file. Accepts flat dotted
 * keys ({"decision.threshold": 0.6}) or nested objects, as config files do. Throws a
 * SettingsError naming the first key or value that is not allowed; nothing is applied then.
 */
export function parseSettingsPatch(body: unknown): Partial<RuntimeSettings> {
  if (!isPlainObject(body)) throw new SettingsError('settings: expected a JSON object such as {"decision.threshold": 0.6}');
  const patch: Record<string, unknown> = {};
  for (const [key, value] of flatten(body)) {
    if (!(RUNTIME_SETTING_KEYS as readonly string[]).includes(key)) {
      const why = isConfigKey(key) ? 'cannot change while running (set it in the config file and restart)' : `is not a setting${suggest(key)}`;
      throw new SettingsError(`settings: '${key}' ${why}; runtime settings: ${RUNTIME_SETTING_KEYS.join(', ')}`);
    }
    const field = configSchema[key as RuntimeSettingKey];
    const checked = field.check(value);
    if (!checked.ok) throw new SettingsError(`settings: ${key} = ${JSON.stringify(value)} is not allowed: must be ${field.allowed}`);
    patch[key] = checked.value;
  }
  return patch as Partial<RuntimeSettings>;
}

/** Reads and applies runtime settings on the running pipeline and its decision maker. */
export class RuntimeSettingsControl {
  constructor(private readonly pipeline: Pipeline) {}

  current(): RuntimeSettings {
    const d = this.pipeline.decisions.current;
    return {
      'decision.threshold': d.threshold,
      'decision.topK': d.topK,
      'decision.smoothing': d.smoothing,
      'decision.window': d.window,
      'decision.votes': d.votes,
      'overlay.enabled': this.pipeline.overlayEnabled,
      'stream.maxFps': this.pipeline.streamMaxFps,
      'stream.jpegQuality': this.pipeline.jpegQuality,
    };
  }

  /** Applies a checked patch (see parseSettingsPatch) and returns the settings now in force. */
  apply(patch: Partial<RuntimeSettings>): RuntimeSettings {
    this.pipeline.decisions.update({
      threshold: patch['decision.threshold'],
      topK: patch['decision.topK'],
      smoothing: patch['decision.smoothing'],
      window: patch['decision.window'],
      votes: patch['decision.votes'],
    });
    if (patch['overlay.enabled'] !== undefined) this.pipeline.overlayEnabled = patch['overlay.enabled'];
    if (patch['stream.maxFps'] !== undefined) this.pipeline.streamMaxFps = patch['stream.maxFps'];
    if (patch['stream.jpegQuality'] !== undefined) this.pipeline.jpegQuality = patch['stream.jpegQuality'];
    return this.current();
  }
}
