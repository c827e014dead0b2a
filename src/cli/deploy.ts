import * as fs from 'node:fs';
import * as path from 'node:path';
import { incompleteReason } from '../daemon/model-inbox';
import { listPackageFiles } from '../daemon/package-copy';
import { KERAS_COMPANIONS, packageLayoutOf } from '../model/package-layout';
import { ModelPackageError, UsageError } from '../util/errors';
import { parseCommandArgs } from './options';
import { callDaemon, remoteOptions, resolveRemote } from './remote';

/**
 * `edgesight deploy MODEL --to http://device:8080`: uploads a package folder, or a Keras file
 * (with the labels.txt and metadata.json beside it, when there), to a running daemon, which
 * checks it, runs its self-test and swaps it in without a restart. A package folder is checked
 * here first (files, shard sizes), so an incomplete folder is not sent at all.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('deploy', argv, remoteOptions);
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new UsageError('deploy: give one model package folder or Keras file: edgesight deploy MODEL --to http://device:8080');
  if (!fs.existsSync(dir)) throw new ModelPackageError(dir, 'does not exist');
  const bareFile = fs.statSync(dir).isFile();
  if (bareFile && packageLayoutOf(dir)?.kind !== 'keras') throw new ModelPackageError(dir, 'is a file but not a Keras model (.h5, .hdf5, .keras); give a package folder or a Keras file');
  const missing = bareFile ? undefined : incompleteReason(dir);
  if (missing) throw new ModelPackageError(dir, `is not a complete model package: ${missing}`);
  const remote = resolveRemote(values);
  const root = bareFile ? path.dirname(dir) : dir;
  const files = bareFile ? [path.basename(dir), ...KERAS_COMPANIONS.filter((f) => fs.existsSync(path.join(root, f)))] : listPackageFiles(dir);
  const form = new FormData();
  for (const file of files) form.append('file', new Blob([fs.readFileSync(path.join(root, file))]), file.split(path.sep).join('/'));
  const { status, body } = await callDaemon(remote, '/api/model', { method: 'POST', body: form });
  if (status === 200) {
    const model = body.model as { name: string; version: string; labels: string[] };
    process.stdout.write(`${remote.base}: now serving ${model.name} ${model.version} (${model.labels.length} labels)\n`);
    return 0;
  }
  process.stderr.write(`edgesight: ${remote.base} refused the model (HTTP ${status}): ${body.error}\n`);
  return REFUSALS.has(status) ? 3 : 1;
}

/**
 * The daemon's verdicts on the package itself (malformed upload, too large, not a package type,
 * failed checks or self-test): exit 3, as for a broken package checked here. Anything else
 * (not signed in, the daemon failing or busy, no connection) is not about the model: exit 1.
 */
const REFUSALS = new Set([400, 413, 415, 422]);
