import * as fs from 'node:fs';
import * as path from 'node:path';
import { incompleteReason } from '../daemon/model-inbox';
import { listPackageFiles } from '../daemon/model-store';
import { ModelPackageError, UsageError } from '../util/errors';
import { parseCommandArgs } from './options';
import { callDaemon, remoteOptions, resolveRemote } from './remote';

/**
 * `edgesight deploy MODEL_DIR --to http://device:8080`: uploads a package to a running daemon,
 * which checks it, runs its self-test and swaps it in without a restart. The package is
 * checked here first (files, shard sizes), so an incomplete folder is not sent at all.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('deploy', argv, remoteOptions);
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new UsageError('deploy: give one model package folder: edgesight deploy MODEL_DIR --to http://device:8080');
  const missing = incompleteReason(dir);
  if (missing) throw new ModelPackageError(dir, `is not a complete model package: ${missing}`);
  const remote = resolveRemote(values);
  const form = new FormData();
  for (const file of listPackageFiles(dir)) form.append('file', new Blob([fs.readFileSync(path.join(dir, file))]), file.split(path.sep).join('/'));
  const { status, body } = await callDaemon(remote, '/api/model', { method: 'POST', body: form });
  if (status === 200) {
    const model = body.model as { name: string; version: string; labels: string[] };
    process.stdout.write(`${remote.base}: now serving ${model.name} ${model.version} (${model.labels.length} labels)\n`);
    return 0;
  }
  process.stderr.write(`edgesight: ${remote.base} refused the model (HTTP ${status}): ${body.error}\n`);
  return status === 422 ? 3 : 1;
}
