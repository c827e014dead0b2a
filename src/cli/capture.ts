import { UsageError } from '../util/errors';
import { parseCommandArgs } from './options';
import { callDaemon, remoteOptions, resolveRemote } from './remote';

/**
 * `edgesight capture --to URL --label L [--count N] [--every S]`: has a running daemon keep N raw
 * frames (a burst of consecutive frames, or one every S seconds) as dataset samples of label L.
 * A timed capture is followed until it ends; Ctrl-C leaves it running on the device.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('capture', argv, { ...remoteOptions, label: { type: 'string', short: 'l' }, count: { type: 'string' }, every: { type: 'string' } });
  if (positionals.length) throw new UsageError(`capture: unexpected argument '${positionals[0]}' (usage: edgesight capture --to URL --label L [--count N] [--every S])`);
  if (values.label === undefined) throw new UsageError('capture: --label is required (usage: edgesight capture --to URL --label L [--count N] [--every S])');
  const count = values.count === undefined ? 1 : Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`capture: --count must be a whole number of at least 1, got '${values.count}'`);
  const every = values.every === undefined ? undefined : Number(values.every);
  if (every !== undefined && !(Number.isFinite(every) && every > 0)) throw new UsageError(`capture: --every must be a number of seconds above 0, got '${values.every}'`);
  const remote = resolveRemote(values);
  const request = { label: values.label, count, ...(every !== undefined ? { everySeconds: every } : {}) };
  const { status, body } = await callDaemon(remote, '/api/dataset/samples', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request) });
  if (status === 201) {
    const samples = body.samples as Array<{ id: string }>;
    process.stdout.write(`${remote.base}: saved ${samples.length} sample(s) of ${values.label}\n`);
    return 0;
  }
  if (status !== 202) {
    const saved = (body.samples as unknown[] | undefined)?.length;
    process.stderr.write(`edgesight: ${remote.base} did not capture (HTTP ${status}): ${body.error}${saved ? ` (${saved} saved before it stopped)` : ''}\n`);
    return status === 400 ? 2 : 1;
  }
  // A timed capture: report each sample until the job ends.
  const id = (body.job as { id: number }).id;
  let seen = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, (every ?? 1) * 500)));
    const { status: s, body: summary } = await callDaemon(remote, '/api/dataset', { method: 'GET' });
    if (s !== 200) {
      process.stderr.write(`edgesight: ${remote.base}: HTTP ${s}: ${summary.error}\n`);
      return 1;
    }
    const job = summary.capture as { id: number; saved: number; count: number; state: string; message?: string } | undefined;
    if (!job || job.id !== id) {
      process.stderr.write(`edgesight: ${remote.base}: the capture is no longer known (daemon restarted?)\n`);
      return 1;
    }
    if (job.saved !== seen) process.stdout.write(`${values.label}: ${job.saved} of ${job.count}\n`);
    seen = job.saved;
    if (job.state === 'running') continue;
    if (job.state === 'done') return 0;
    process.stderr.write(`edgesight: capture ${job.state} after ${job.saved} of ${job.count}: ${job.message}\n`);
    return 1;
  }
}
