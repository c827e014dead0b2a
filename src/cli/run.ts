import { DaemonController } from '../daemon/controller';
import { createLogger } from '../util/logger';
import { configFromValues, configOptions, parseCommandArgs } from './options';

/** `edgesight run`: the daemon, until SIGINT or SIGTERM. */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('run', argv, configOptions);
  if (positionals.length) values.source ??= positionals[0];
  const config = configFromValues(values);
  const log = createLogger(config['log.level'], config['log.format']);
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
  await stopped;
  return 0;
}
