import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { labelProblem, isSampleName, UNLABELLED } from '../dataset/labels';
import { InputFileError, UsageError } from '../util/errors';
import { parseCommandArgs } from './options';
import { callDaemon, remoteOptions, resolveRemote, type Remote } from './remote';

const MANIFEST = '.edgesight-pull.json';
const PARALLEL = 4;

export interface PullResult {
  fetched: number;
  skipped: number;
  removed: number;
  bytes: number;
}

/**
 * `edgesight dataset pull --from URL --out DIR`: copies a device's dataset into DIR in the
 * flow_from_directory layout (DIR/<label>/<file>), plus index.jsonl. Files already there with
 * the same size are not fetched again; files this command fetched before that the device no
 * longer has (relabelled or deleted there) are removed, so a class folder never keeps a sample
 * that moved. Files the user put in DIR are never touched.
 */
export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  // `dataset --help` is the help of its one subcommand.
  if (sub === '--help' || sub === '-h') return main(['pull', sub]);
  if (sub !== 'pull') throw new UsageError(`dataset: unknown subcommand '${sub ?? ''}' (usage: edgesight dataset pull --from URL --out DIR [--token T] [--unlabelled])`);
  const { values, positionals } = parseCommandArgs('dataset pull', rest, { ...remoteOptions, from: { type: 'string', short: 'f' }, out: { type: 'string', short: 'o' }, unlabelled: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`dataset pull: unexpected argument '${positionals[0]}'`);
  if (!values.out) throw new UsageError('dataset pull: --out DIR is required');
  const remote = resolveRemote({ ...values, to: values.from ?? values.to });
  const result = await pullDataset(remote, values.out, { unlabelled: values.unlabelled === true });
  process.stdout.write(`${remote.base} -> ${values.out}: ${result.fetched} new file(s) (${(result.bytes / 1048576).toFixed(1)} MB), ${result.skipped} already here, ${result.removed} removed\n`);
  return 0;
}

export async function pullDataset(remote: Remote, out: string, options: { unlabelled?: boolean } = {}): Promise<PullResult> {
  const { status, body } = await callDaemon(remote, `/api/dataset/files${options.unlabelled ? '?unlabelled=1' : ''}`, { method: 'GET' });
  if (status !== 200) throw new InputFileError(remote.base, `listing the dataset failed (HTTP ${status}): ${body.error}`);
  const listed = body.files as Array<{ path: string; bytes: number }>;
  const index = body.index as { bytes: number };
  // Never a path from the device joined blindly: each part is checked as the device checks it.
  for (const file of listed) {
    const [label, name, extra] = file.path.split('/');
    if (extra !== undefined || (label !== UNLABELLED && labelProblem(label)) || !isSampleName(name ?? '')) throw new InputFileError(remote.base, `the device listed an unsafe sample path ${JSON.stringify(file.path)}`);
  }
  fs.mkdirSync(out, { recursive: true });
  const manifestFile = path.join(out, MANIFEST);
  const before = new Set<string>(fs.existsSync(manifestFile) ? (JSON.parse(fs.readFileSync(manifestFile, 'utf8')).files as string[]) : []);
  const result: PullResult = { fetched: 0, skipped: 0, removed: 0, bytes: 0 };
  const wanted = listed.filter((file) => {
    const local = path.join(out, ...file.path.split('/'));
    const same = fs.existsSync(local) && fs.statSync(local).size === file.bytes;
    if (same) result.skipped++;
    return !same;
  });
  let next = 0;
  const worker = async () => {
    while (next < wanted.length) {
      const file = wanted[next++];
      const [label, name] = file.path.split('/');
      await download(remote, `/api/dataset/samples/${encodeURIComponent(label)}/${encodeURIComponent(name)}`, path.join(out, label, name));
      result.fetched++;
      result.bytes += file.bytes;
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const indexFile = path.join(out, 'index.jsonl');
  if (index.bytes > 0 && !(fs.existsSync(indexFile) && fs.statSync(indexFile).size === index.bytes)) {
    await download(remote, '/api/dataset/index.jsonl', indexFile);
    result.fetched++;
  }
  const now = new Set(listed.map((f) => f.path));
  for (const old of before) {
    if (now.has(old)) continue;
    const [label, name] = old.split('/');
    if ((label !== UNLABELLED && labelProblem(label)) || !isSampleName(name ?? '')) continue;
    if (fs.existsSync(path.join(out, label, name))) {
      fs.rmSync(path.join(out, label, name));
      result.removed++;
    }
  }
  fs.writeFileSync(manifestFile, JSON.stringify({ from: remote.base, files: [...now] }) + '\n');
  return result;
}

/** Streams one file to disk under a temporary name, renamed when complete. */
async function download(remote: Remote, route: string, file: string): Promise<void> {
  const res = await fetch(remote.base + route, { headers: remote.headers });
  if (res.status !== 200 || !res.body) throw new InputFileError(remote.base, `${route}: HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.part`;
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), fs.createWriteStream(tmp));
  fs.renameSync(tmp, file);
}
