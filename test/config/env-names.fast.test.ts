import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OTHER_VARIABLES, unknownVariableWarnings } from '../../src/config/env-names';
import { configKeys, envNameFor } from '../../src/config/schema';
import { projectRoot } from '../helpers/fixtures';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(file);
    return /\.(ts|sh|js)$/.test(e.name) ? [file] : [];
  });
}

describe('mistyped EDGESIGHT_* variables', () => {
  it('warn, naming the nearest variable and its key', () => {
    const warnings = unknownVariableWarnings({ EDGESIGHT_SERVR_PORT: '9000', PATH: '/bin', HOME: '/root' });
    assert.deepEqual(warnings, ['environment variable EDGESIGHT_SERVR_PORT is not one edgesight reads, so it is ignored (did you mean EDGESIGHT_SERVER_PORT (server.port)?)']);
    assert.match(unknownVariableWarnings({ EDGESIGHT_DECISION_TRESHOLD: '0.7' })[0], /did you mean EDGESIGHT_DECISION_THRESHOLD \(decision\.threshold\)\?/);
    assert.match(unknownVariableWarnings({ EDGESIGHT_TOP_K: '2' })[0], /did you mean EDGESIGHT_DECISION_TOP_K \(decision\.topK\)\?/, 'a section left out');
    assert.match(unknownVariableWarnings({ Edgesight_Server_Port: '2' })[0], /names are case-sensitive: EDGESIGHT_SERVER_PORT/);
  });

  it('never warn about a configuration variable or one edgesight reads for another purpose', () => {
    const env: NodeJS.ProcessEnv = {};
    for (const key of configKeys) env[envNameFor(key)] = 'x';
    for (const name of Object.keys(OTHER_VARIABLES)) env[name] = 'x';
    assert.deepEqual(unknownVariableWarnings(env), []);
  });

  it('every EDGESIGHT_* variable the code reads is a key or listed as another purpose', () => {
    const known = new Set([...configKeys.map(envNameFor), ...Object.keys(OTHER_VARIABLES)]);
    const found = new Set<string>();
    const unlisted = new Set<string>();
    const note = (name: string, file: string) => {
      found.add(name);
      if (name !== 'EDGESIGHT_SECTION_KEY' && !known.has(name)) unlisted.add(`${name} (${path.relative(projectRoot, file)})`);
    };
    // env-names.ts itself names typos as examples.
    const code = [...sourceFiles(path.join(projectRoot, 'src')), ...sourceFiles(path.join(projectRoot, 'scripts')), path.join(projectRoot, 'bin', 'edgesight')].filter((f) => !f.endsWith(path.join('config', 'env-names.ts')));
    // Read as env.NAME, named in a string ('NAME', `$NAME`), set as a key (NAME: ...) or in shell
    // ($NAME, ${NAME}, NAME=); not a constant of the same shape (const EDGESIGHT_VERSION: string).
    const read = /(?:env\.|['"`$]|\$\{)(EDGESIGHT_[A-Z0-9_]*[A-Z0-9])\b|(?<!(?:const|let|var) )\b(EDGESIGHT_[A-Z0-9_]*[A-Z0-9])(?=[:=])/g;
    for (const file of code) for (const m of fs.readFileSync(file, 'utf8').matchAll(read)) note(m[1] ?? m[2], file);
    // Tests read theirs from process.env; the names they set on purpose as typos are not read.
    for (const file of sourceFiles(path.join(projectRoot, 'test'))) for (const [, name] of fs.readFileSync(file, 'utf8').matchAll(/process\.env\.(EDGESIGHT_[A-Z0-9_]+)/g)) note(name, file);
    assert.ok(found.has('EDGESIGHT_TOKEN') && found.has('EDGESIGHT_CAPTURE_SOURCE') && found.has('EDGESIGHT_CHROMIUM'), `the scan found ${[...found].join(', ')}`);
    assert.deepEqual([...unlisted], []);
  });
});
