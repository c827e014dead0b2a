import { CONFIG_VARIABLE, SEARCH_VARIABLE } from './locate';
import { configKeys, envNameFor, type ConfigKey } from './schema';

/**
 * EDGESIGHT_* variables that are not configuration keys but are read on purpose, so they are
 * never taken for a typo. test/config/env-names.test.ts fails when src/ or scripts/ read one that
 * is not listed here.
 */
export const OTHER_VARIABLES: Readonly<Record<string, string>> = {
  [CONFIG_VARIABLE]: 'the configuration file (after --config)',
  [SEARCH_VARIABLE]: 'the configuration files searched for (tests)',
  EDGESIGHT_TOKEN: 'the access token deploy, rollback, capture and dataset send',
  EDGESIGHT_CAPTURE_SOURCE: "the capture process's options (set by the daemon for its child)",
  // Read by the test suite; a developer may keep them exported in a shell.
  EDGESIGHT_CHROMIUM: 'the browser of the dashboard tests',
  EDGESIGHT_TEST_CRASH_AFTER_MS: 'the crashing capture process of the tests',
};

const KEY_BY_NAME = new Map<string, ConfigKey>(configKeys.map((key) => [envNameFor(key), key]));
const KNOWN = [...KEY_BY_NAME.keys(), ...Object.keys(OTHER_VARIABLES)];

/**
 * One warning per EDGESIGHT_* variable (any case) that edgesight does not read, naming the
 * nearest ones it does: EDGESIGHT_SERVR_PORT would otherwise be ignored without a word and the
 * daemon listen on 8080.
 */
export function unknownVariableWarnings(env: NodeJS.ProcessEnv): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    const upper = name.toUpperCase();
    if (!upper.startsWith('EDGESIGHT_') || KNOWN.includes(name)) continue;
    const near = nearest(upper).map((n) => (KEY_BY_NAME.has(n) ? `${n} (${KEY_BY_NAME.get(n)})` : n));
    const hint = KNOWN.includes(upper) ? `names are case-sensitive: ${near[0]}` : `did you mean ${near.join(' or ')}?`;
    warnings.push(`environment variable ${name} is not one edgesight reads, so it is ignored (${hint})`);
  }
  return warnings;
}

/**
 * The known names closest to `name`: those that end in what was typed after EDGESIGHT_ (the
 * section left out: EDGESIGHT_PORT -> EDGESIGHT_SERVER_PORT; several when ambiguous), else the
 * one at the smallest edit distance (EDGESIGHT_SERVR_PORT -> EDGESIGHT_SERVER_PORT).
 */
function nearest(name: string): string[] {
  const rest = name.slice('EDGESIGHT_'.length);
  const sectionLeftOut = rest ? KNOWN.filter((k) => k.endsWith(`_${rest}`)).slice(0, 3) : [];
  if (sectionLeftOut.length) return sectionLeftOut;
  let best = KNOWN[0];
  let bestDistance = Infinity;
  for (const candidate of KNOWN) {
    const d = editDistance(candidate, name);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return [best];
}

/** Levenshtein distance with one row. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
