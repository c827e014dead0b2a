#!/usr/bin/env node
import { errorMessage, isEdgesightError, UsageError } from '../util/errors';
import { PRIORITY, stderrLine } from '../util/journal';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> }> = {
  run: { summary: 'run the daemon: camera (or demo) -> model -> annotated frames', load: () => import('./run') },
  predict: { summary: 'classify image and video files: predict PATH... [--model DIR] [--json] [--top K]', load: () => import('./predict') },
  train: { summary: 'train a model package from a folder of labelled images: train --data DIR --out DIR [options]', load: () => import('./train') },
  evaluate: { summary: 'accuracy, per-class precision/recall/F1 and confusion matrix: evaluate --model DIR --data DIR', load: () => import('./evaluate') },
  info: { summary: 'describe a model package or Keras file: info MODEL_DIR|FILE [--json]', load: () => import('./info') },
  import: { summary: 'write a Keras file as a model package: import FILE --out DIR [--labels a,b] [--range 0,1] [--invert ...]', load: () => import('./import') },
  doctor: { summary: 'report OpenCV build, TF.js backend, cameras and model found', load: () => import('./doctor') },
  deploy: { summary: 'send a model package or Keras file to a running edgesight: deploy MODEL --to http://device:8080 [--token T]', load: () => import('./deploy') },
  capture: { summary: 'keep raw frames as dataset samples on a running edgesight: capture --to URL --label L [--count N] [--every S] [--token T]', load: () => import('./capture') },
  dataset: { summary: 'copy a device\'s dataset (only new files): dataset pull --from URL --out DIR [--token T] [--unlabelled]', load: () => import('./dataset') },
  rollback: { summary: 'serve the previous model again: rollback [--to URL] [--token T]', load: () => import('./rollback') },
  token: { summary: "print the dashboard's access token and where it is kept (--rotate: make a new one)", load: () => import('./token') },
  bench: { summary: 'measure the pipeline against the seed\'s Python loop: bench [--quick] [--seconds N] [--readme]', load: () => import('./bench') },
  config: { summary: 'print the resolved configuration (--docs: the key reference as Markdown)', load: () => import('./config') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return [
    'usage: edgesight <command> [options]',
    '',
    ...lines,
    '',
    'Config options (run, predict, doctor, config): --config FILE, --set key=value (repeatable),',
    '  --source S, --model DIR, --backend auto|tfjs-node|wasm|cpu|opencv, --threshold X, --top K,',
    '  --smoothing none|average|vote, --log-level L, --host ADDR, --port N, --auth token|password|none.',
  '  Environment: EDGESIGHT_SECTION_KEY=value.',
  ].join('\n');
}

export async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage() + '\n');
    return command ? 0 : 2;
  }
  if (command === '--version' || command === 'version') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    process.stdout.write(`${require('../../../package.json').version}\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) throw new UsageError(`unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  const mod = await entry.load();
  return mod.main(rest);
}

/** Runs a command line and sets the exit code; user mistakes print one line, bugs their stack. */
export function runCli(argv: string[]): Promise<void> {
  // `edgesight predict ... | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  return cli(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (isEdgesightError(err)) {
        process.stderr.write(stderrLine(PRIORITY.err, `edgesight: ${err.message}`));
        process.exitCode = err.exitCode;
      } else {
        process.stderr.write(stderrLine(PRIORITY.err, `edgesight: internal error: ${errorMessage(err)}\n${(err as Error)?.stack ?? ''}`));
        process.exitCode = 70;
      }
    },
  );
}

if (require.main === module) void runCli(process.argv.slice(2));
