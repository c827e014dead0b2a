import * as os from 'node:os';
import { trainingSpec, TRAIN_FLAGS } from '../train/options';
import { runTraining } from '../train/run-training';
import { parseCommandArgs } from './options';

/**
 * `edgesight train --data DIR --out DIR [options | --config FILE]`: a folder of labelled images
 * (one sub-folder per class) to a model package with its report. Options: see the README.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('train', argv, {
    ...TRAIN_FLAGS,
    data: { type: 'string', short: 'd' },
    out: { type: 'string', short: 'o' },
    config: { type: 'string', short: 'c' },
  } as const);
  if (positionals.length) values.data ??= positionals[0];
  const result = await runTraining(trainingSpec(values));
  // 128 + the signal's number, as a shell reports a command a signal ended: 130 Ctrl-C, 143 SIGTERM.
  return result.fit.interrupted ? 128 + os.constants.signals[result.stoppedBy ?? 'SIGINT'] : 0;
}
