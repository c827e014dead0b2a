import { parseCommandArgs } from './options';
import { callDaemon, remoteOptions, resolveRemote } from './remote';

/** `edgesight rollback [--to URL]`: the daemon serves its previous model again. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('rollback', argv, remoteOptions);
  const remote = resolveRemote(values);
  const { status, body } = await callDaemon(remote, '/api/model/rollback', { method: 'POST' });
  if (status === 200) {
    const model = body.model as { name: string; version: string };
    process.stdout.write(`${remote.base}: rolled back, now serving ${model.name} ${model.version}\n`);
    return 0;
  }
  process.stderr.write(`edgesight: rollback refused by ${remote.base} (HTTP ${status}): ${body.error}\n`);
  return 1;
}
