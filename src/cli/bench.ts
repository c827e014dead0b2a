import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildReport, toMarkdown } from '../bench/report';
import { runBench } from '../bench/runner';
import { defaultConfig } from '../config/schema';
import { UsageError } from '../util/errors';
import { parseCommandArgs } from './options';

const ROOT = path.resolve(__dirname, '..', '..', '..');
/** The summary's place in docs/speed.md. */
const SUMMARY_PAGE = path.join('docs', 'speed.md');
const SUMMARY_START = '<!-- bench:start -->';
const SUMMARY_END = '<!-- bench:end -->';

/**
 * `edgesight bench`: the speed of the whole pipeline, per scenario, and against the
 * like-for-like reference loop (bench/reference/, the same network in PyTorch; method in
 * docs/benchmarks.md), written to test/bench/results/latest.{json,md} (`--out`). `--quick`
 * measures the 640x480 clip only with 3 s windows; `--compare` only the comparison rows;
 * `--docs` also puts the summary into docs/speed.md.
 */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('bench', argv, {
    quick: { type: 'boolean' },
    compare: { type: 'boolean' },
    seconds: { type: 'string' },
    reference: { type: 'string' },
    out: { type: 'string', short: 'o' },
    docs: { type: 'boolean' },
  } as const);
  const quick = values.quick ?? false;
  const seconds = Number(values.seconds ?? (quick ? 3 : 5));
  if (!(seconds >= 1 && seconds <= 600)) throw new UsageError(`bench: --seconds must be between 1 and 600, got '${values.seconds}'`);
  const referenceScript = path.resolve(values.reference ?? path.join(ROOT, 'bench', 'reference', 'loop.py'));
  const outDir = path.resolve(values.out ?? path.join(ROOT, 'test', 'bench', 'results'));
  if (spawnSync('taskset', ['-V']).status !== 0) throw new UsageError('bench: needs taskset (util-linux) to pin processes to cores');

  const log = (line: string) => process.stderr.write(`${line}\n`);
  const compareOnly = values.compare ?? false;
  const run = await runBench({ root: ROOT, referenceScript, seconds, quick, compareOnly, log });
  // The daemon under test runs on the shipped defaults; the method says which ones shape the numbers.
  const shipped = defaultConfig();
  const method =
    `daemon in its own process pinned with taskset (2 cores: CPUs 0-1, 1 core: CPU 0; viewers then run on CPU 1), file source from paper-digit MJPEG clips made at run time, ` +
    `${seconds} s windows after 1 s settling; comparison (docs/benchmarks.md): the 640x480 clip read unthrottled (on demand, up to ${shipped['pipeline.batchSize']} frames per inference as shipped: pipeline.batchSize), one fast viewer; ` +
    `as shipped = classified frames/s with the stream capped at ${shipped['stream.maxFps']} pictures/s (stream.maxFps); every frame = frames/s classified and drawn and encoded with stream.maxFps=0; ` +
    `reference = bench/reference/loop.py (the same network and weights in PyTorch, every frame read, preprocessed, classified, drawn and encoded) on the same clip with the same taskset, the faster of torch's default threads and one per core.`;
  const report = buildReport(run, method, sysbenchEventsPerSecond());
  const markdown = toMarkdown(report);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, 'latest.md'), `# edgesight benchmark\n\n${markdown}`);
  process.stdout.write(`\n${markdown}\nwritten: ${path.join(outDir, 'latest.json')}, latest.md\n`);
  if (values.docs) updateSpeedPage(markdown);
  return report.goals.every((g) => g.met) ? 0 : 1;
}

/** Single-thread sysbench events/s on CPU 0, when sysbench is installed (for the Pi 4 comparison). */
function sysbenchEventsPerSecond(): number | null {
  const result = spawnSync('taskset', ['-c', '0', 'sysbench', 'cpu', '--threads=1', '--time=5', 'run'], { encoding: 'utf8' });
  const match = /events per second:\s*([\d.]+)/.exec(result.stdout ?? '');
  return match ? Number(match[1]) : null;
}

function updateSpeedPage(markdown: string): void {
  const file = path.join(ROOT, SUMMARY_PAGE);
  const text = fs.readFileSync(file, 'utf8');
  const start = text.indexOf(SUMMARY_START);
  const end = text.indexOf(SUMMARY_END);
  if (start < 0 || end < start) throw new UsageError(`bench --docs: ${SUMMARY_PAGE} has no ${SUMMARY_START} ... ${SUMMARY_END} block`);
  // The summary only: the per-scenario table stays in test/bench/results/latest.md.
  const summary = markdown.split('\nPer scenario')[0].trim();
  fs.writeFileSync(file, `${text.slice(0, start + SUMMARY_START.length)}\n${summary}\n\nEvery scenario: [test/bench/results/latest.md](../test/bench/results/latest.md).\n${text.slice(end)}`);
}
