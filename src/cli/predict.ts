import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { isImageFile } from '../capture/images-source';
import type { Classifier } from '../model/classifier';
import { openClassifier } from '../model/open-model';
import { decisionSettings, DecisionMaker, rankTop } from '../pipeline/decision';
import type { Config } from '../config/schema';
import { errorMessage, InputFileError, UsageError } from '../util/errors';
import { createLogger } from '../util/logger';
import { cv, releaseAll, type Mat } from '../vision/cv';
import { readImageFile } from '../vision/read-image';
import { configFromValues, configOptions, parseCommandArgs } from './options';
import { roundTo } from '../util/round';

export interface PredictLine {
  file: string;
  /** Frame index within a video (every frame, none dropped); absent for images. */
  frame?: number;
  label: string;
  confidence: number;
  topk: Array<{ label: string; confidence: number }>;
  /** True when the frame's confidence is below decision.threshold. */
  uncertain: boolean;
  /** The smoothed decision over recent frames of the same video, when smoothing is on. */
  smoothed?: { label: string; confidence: number };
}

/**
 * `edgesight predict PATH...`: classifies images and every frame of videos with the same
 * preprocessing and model code as the daemon. A folder stands for the images and videos in it.
 * Unreadable files are reported by name and skipped; exit code 1 if any failed.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('predict', argv, { ...configOptions, json: { type: 'boolean', short: 'j' } } as const);
  if (positionals.length === 0) throw new UsageError('predict: give at least one image, video or folder: edgesight predict PATH... [--model DIR] [--json] [--top K]');
  const config = configFromValues(values, process.env, 'found');
  const log = createLogger(config['log.level'] === 'info' ? 'warn' : config['log.level'], config['log.format']);
  const { classifier } = await openClassifier(config, log);
  const write = values.json
    ? (line: PredictLine) => process.stdout.write(JSON.stringify(line) + '\n')
    : (line: PredictLine) => process.stdout.write(formatText(line) + '\n');

  let failed = 0;
  let lines = 0;
  const counted = (line: PredictLine) => {
    lines++;
    write(line);
  };
  const files = expand(positionals);
  for (const file of files) {
    try {
      await predictFile(file, classifier, config, counted);
    } catch (err) {
      failed++;
      process.stderr.write(`edgesight: predict: ${err instanceof InputFileError ? err.message : `${file}: ${errorMessage(err)}`}\n`);
    }
  }
  // With --log-level debug: the totals, and live tensors to show nothing leaked over a long clip.
  log.debug({ files: files.length, failed, predictions: lines, tensors: tf.memory().numTensors }, 'predict done');
  classifier.dispose();
  return failed > 0 ? 1 : 0;
}

function expand(paths: string[]): string[] {
  const collator = new Intl.Collator(undefined, { numeric: true });
  return paths.flatMap((p) => {
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) {
      return fs.readdirSync(p).sort(collator.compare).map((f) => path.join(p, f)).filter((f) => fs.statSync(f).isFile());
    }
    return [p];
  });
}

export async function predictFile(file: string, classifier: Classifier, config: Config, write: (line: PredictLine) => void): Promise<void> {
  if (!fs.existsSync(file)) throw new InputFileError(file, 'does not exist');
  const decisions = new DecisionMaker(classifier.labels, decisionSettings(config));
  const smoothing = config['decision.smoothing'] !== 'none';
  if (isImageFile(file)) {
    const mat = await readImageFile(file);
    write(lineFor(file, undefined, classifier.classify(mat).scores, classifier.labels, decisions, false));
    mat.release();
    return;
  }
  let capture;
  try {
    capture = new cv.VideoCapture(file);
  } catch {
    throw new InputFileError(file, 'not an image or a video OpenCV can decode');
  }
  // Frames go to the model pipeline.batchSize at a time, as the daemon does with a file read
  // unthrottled: one inference reads the weights once for all of them.
  const batchSize = config['pipeline.batchSize'];
  const smalls: Mat[] = [];
  let index = 0;
  let ended = false;
  let pending: Promise<Mat> | undefined = capture.readAsync();
  try {
    while (!ended) {
      while (!ended && smalls.length < batchSize) {
        const frame: Mat = await pending!;
        pending = undefined;
        ended = frame.empty;
        if (ended) break;
        // The next frame decodes on the thread pool while this one is shrunk and the batch classified.
        pending = capture.readAsync();
        smalls.push(classifier.preprocessor.shrink(frame));
        frame.release();
      }
      if (smalls.length === 0) {
        if (index === 0) throw new InputFileError(file, 'not an image or a video OpenCV can decode (no frames)');
        break;
      }
      const batch = classifier.classifyBatch(smalls, smalls.length);
      for (let i = 0; i < batch.count; i++) write(lineFor(file, index++, batch.scores[i], classifier.labels, decisions, smoothing));
      releaseAll(...smalls);
      smalls.length = 0;
    }
  } finally {
    releaseAll(...smalls);
    // A read still running would use the capture after release.
    await pending?.then((frame) => frame.release(), () => undefined);
    capture.release();
  }
}

function lineFor(file: string, frame: number | undefined, scores: Float32Array, labels: readonly string[], decisions: DecisionMaker, smoothing: boolean): PredictLine {
  // label, confidence and topk are this frame's own scores; smoothing only feeds its own field.
  const topk = rankTop(scores, labels, decisions.current.topK);
  const line: PredictLine = {
    file,
    ...(frame === undefined ? {} : { frame }),
    label: topk[0].label,
    confidence: roundTo(topk[0].confidence, 4),
    topk: topk.map((t) => ({ label: t.label, confidence: roundTo(t.confidence, 4) })),
    uncertain: topk[0].confidence < decisions.current.threshold,
  };
  if (smoothing) {
    const decision = decisions.decide(scores);
    line.smoothed = { label: decision.label, confidence: roundTo(decision.confidence, 4) };
  }
  return line;
}


function formatText(line: PredictLine): string {
  const where = line.frame === undefined ? line.file : `${line.file}#${line.frame}`;
  const top = line.topk.map((t) => `${t.label} ${(t.confidence * 100).toFixed(1)}%`).join(', ');
  const smoothed = line.smoothed ? `  smoothed ${line.smoothed.label} ${(line.smoothed.confidence * 100).toFixed(1)}%` : '';
  return `${where}\t${line.label}\t${(line.confidence * 100).toFixed(1)}%${line.uncertain ? ' (uncertain)' : ''}\t[${top}]${smoothed}`;
}
