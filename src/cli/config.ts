import { toNestedJson } from '../config/load';
import { redactUrl } from '../util/redact';
import { configKeys, configSchema, envNameFor, type Config } from '../config/schema';
import { configFromValues, configOptions, parseCommandArgs } from './options';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('config', argv, { ...configOptions, docs: { type: 'boolean' } } as const);
  if (values.docs) {
    process.stdout.write(configDocs() + '\n');
    return 0;
  }
  const config = configFromValues(values);
  process.stdout.write(JSON.stringify(toNestedJson(redactSecrets(config)), null, 2) + '\n');
  return 0;
}

/**
 * The config with every secret field that is set replaced by [redacted], and credentials in
 * every address (source, url.address, a GStreamer pipeline, mqtt.url, webhooks.urls) hidden as
 * the capture log hides them: rtsp://user:***@host.
 */
export function redactSecrets(config: Config): Config {
  const out: Record<string, unknown> = { ...config };
  for (const key of configKeys) {
    if (configSchema[key].secret && out[key] !== '') out[key] = '[redacted]';
    else if (typeof out[key] === 'string') out[key] = redactUrl(out[key] as string);
  }
  return out as Config;
}

/** docs/configuration.md's key table, generated from the schema so the two cannot drift. */
export function configDocs(): string {
  const rows = configKeys.map((key) => {
    const f = configSchema[key];
    return `| \`${key}\` | \`${JSON.stringify(f.default)}\` | ${f.allowed} | \`${envNameFor(key)}\` | ${f.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | default | allowed | environment | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
