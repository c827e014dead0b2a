#!/usr/bin/env node
import { errorMessage, isEdgesightError, UsageError } from '../util/errors';
import { PRIORITY, stderrLine } from '../util/journal';
import { HelpShown, mainUsage } from './usage';

type CommandModule = { main(argv: string[]): Promise<number> };

/** Each command's module, loaded only when it runs (train and bench pull in much more than config does). */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  run: () => import('./run'),
  predict: () => import('./predict'),
  train: () => import('./train'),
  evaluate: () => import('./evaluate'),
  info: () => import('./info'),
  import: () => import('./import'),
  doctor: () => import('./doctor'),
  deploy: () => import('./deploy'),
  capture: () => import('./capture'),
  dataset: () => import('./dataset'),
  rollback: () => import('./rollback'),
  token: () => import('./token'),
  bench: () => import('./bench'),
  config: () => import('./config'),
};

/**
 * `edgesight` alone is a mistake (usage on stderr, exit 2); `edgesight help` and `--help` ask for
 * the usage (stdout, exit 0); `edgesight help COMMAND` is `edgesight COMMAND --help`.
 */
export async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command) {
    process.stderr.write(mainUsage() + '\n');
    return 2;
  }
  if (command === 'help' && rest.length) return cli([rest[0], '--help']);
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(mainUsage() + '\n');
    return 0;
  }
  if (command === '--version' || command === 'version') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    process.stdout.write(`${require('../../../package.json').version}\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) throw new UsageError(`unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')}; 'edgesight help' describes them)`);
  const mod = await load();
  try {
    return await mod.main(rest);
  } catch (err) {
    if (err instanceof HelpShown) return 0;
    throw err;
  }
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
