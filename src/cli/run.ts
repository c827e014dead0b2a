import { DaemonController } from '../daemon/controller';
import { createLogger } from '../util/logger';
import { describeChoice } from '../config/locate';
import { configOptions, parseCommandArgs, resolveConfig } from './options';

/** `edgesight run`: the daemon, until SIGINT or SIGTERM. */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('run', argv, configOptions);
  if (positionals.length) values.source ??= positionals[0];
  const { config, choice, warnings } = resolveConfig(values);
  const log = createLogger(config['log.level'], config['log.format']);
  for (const warning of warnings) log.warn(warning);
  const daemon = new DaemonController(config, log);
  let signalled = false;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) return;
      signalled = true;
      log.info(`${signal} received, stopping`);
      void daemon.stop().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  // Only after a good start: a failed start stays one line (its error names the file if the file is at fault).
  log.info({ configFile: choice.file ?? null }, describeChoice(choice));
  await stopped;
  return 0;
}
