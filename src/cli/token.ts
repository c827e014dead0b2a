import { resolveStateDir } from '../server/state-dir';
import { loadOrCreateToken, rotateToken } from '../server/token-store';
import { configFromValues, configOptions, parseCommandArgs } from './options';

/** `edgesight token [--rotate]`: the dashboard token on stdout, where it lives on stderr. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('token', argv, { ...configOptions, rotate: { type: 'boolean' } } as const);
  const config = configFromValues(values);
  const stateDir = resolveStateDir(config);
  const stored = values.rotate ? rotateToken(stateDir) : loadOrCreateToken(stateDir);
  process.stdout.write(stored.token + '\n');
  process.stderr.write(`${values.rotate ? 'new token written to' : 'token kept in'} ${stored.file}${values.rotate ? ' (restart edgesight to use it)' : ''}\n`);
  if (config['server.auth'] !== 'token') process.stderr.write(`note: server.auth is ${config['server.auth']}, so the token is not used\n`);
  return 0;
}
