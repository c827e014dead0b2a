import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../util/random';
import type { Preprocessor } from '../vision/preprocess';
import type { BaseModel } from './base-model';
import { computeEmbeddings, embeddingExamples } from './embeddings';
import { imageExamples } from './examples';
import type { ImageSet } from './images';
import { augments, type TrainingSpec, type TransferSpec } from './options';
import { fitExamples, type FitHooks, type FitOptions, type FitResult } from './trainer';
import { buildHead, composeModel, unfreezeLast } from './transfer-model';

/** Dropout between the head's two dense layers. */
export const HEAD_DROPOUT = 0.25;

export interface TransferOutcome {
  /** Base + head, one model, image in. */
  model: tf.LayersModel;
  /** The head's epochs, then the fine-tuning epochs numbered on from them. */
  result: FitResult;
  embedSeconds: number;
  fineTune?: { layers: string[]; epochs: number; kept: boolean; bestValLoss: number; headValLoss: number };
  /** Frees the head's weights; the base's are freed with the base (BaseModel.dispose). */
  dispose(): void;
}

/** What a phase needs from the caller: a progress bar and Ctrl-C, per phase. */
export type RunPhase = (name: string, epochs: number, train: (hooks: FitHooks) => Promise<FitResult>) => Promise<FitResult>;

/**
 * Transfer learning: embeddings of every image (and of each augmented view) are computed once
 * with the frozen base, a small head is trained on them (an epoch is a few dense layers over
 * cached vectors), then base and head are joined into one model. With --fine-tune N, the last
 * N layers of the base are unfrozen and the joined model trained on the images for a few epochs
 * at a lower rate; that phase is kept only if it lowers the validation loss.
 */
export async function trainTransfer(
  base: BaseModel,
  sets: { train: ImageSet; validation: ImageSet },
  preprocessor: Preprocessor,
  spec: TrainingSpec & { transfer: TransferSpec },
  units: number,
  runPhase: RunPhase,
  log: (line: string) => void,
): Promise<TransferOutcome> {
  const t = spec.transfer;
  const augmentation = augments(spec.augmentation) ? spec.augmentation : undefined;
  const started = performance.now();
  // A stream of its own for the augmented views, so the fit loop's shuffles stay as without them.
  const viewRandom = seededRandom(spec.seed + 7919);
  const train = computeEmbeddings(base.extractor, sets.train, preprocessor, { views: t.augmentViews, augmentation, random: viewRandom, batchSize: spec.batchSize });
  const validation = computeEmbeddings(base.extractor, sets.validation, preprocessor, { views: 1, batchSize: spec.batchSize });
  const embedSeconds = (performance.now() - started) / 1000;
  log(`embeddings: ${sets.train.labels.length} training images${train.views > 1 ? ` x ${train.views} views (1 as is + ${train.views - 1} augmented)` : ''} and ${sets.validation.labels.length} validation images through the frozen base, ${base.embeddingSize} values each, in ${embedSeconds.toFixed(1)} s (cached in memory, ${((train.vectors.byteLength + validation.vectors.byteLength) / 1024 ** 2).toFixed(1)} MB)`);

  const head = buildHead(base.embeddingSize, t.headUnits, HEAD_DROPOUT, units, spec.seed);
  const options: FitOptions = fitOptionsOf(spec, spec.epochs, spec.learningRate);
  const headResult = await runPhase('head', spec.epochs, (hooks) => fitExamples(head, { train: embeddingExamples(train), validation: embeddingExamples(validation) }, units, options, hooks));
  const model = composeModel(base, head);
  const dispose = () => head.weights.forEach((w) => w.dispose());
  if (t.fineTuneLayers === 0 || headResult.interrupted || headResult.history.length === 0) return { model, result: headResult, embedSeconds, dispose };

  const headValLoss = headResult.history[headResult.bestEpoch - 1].valLoss;
  const before = model.getWeights().map((w) => w.clone());
  const layers = unfreezeLast(base, t.fineTuneLayers);
  log(`fine-tuning the last ${t.fineTuneLayers} layers of the base (${layers.length} with weights: ${layers.join(', ')}) with the head, lr ${t.fineTuneLearningRate}, up to ${t.fineTuneEpochs} epochs`);
  const tuned = await runPhase('fine-tune', t.fineTuneEpochs, (hooks) =>
    fitExamples(model, { train: imageExamples(sets.train, preprocessor, augmentation), validation: imageExamples(sets.validation, preprocessor) }, units, { ...fitOptionsOf(spec, t.fineTuneEpochs, t.fineTuneLearningRate), patience: 0 }, hooks),
  );
  // Frozen again: the saved model must not carry "trainable" into a later run by accident.
  base.extractor.trainable = false;
  const bestValLoss = tuned.history.length ? tuned.history[tuned.bestEpoch - 1].valLoss : Infinity;
  const kept = bestValLoss < headValLoss;
  if (!kept) {
    model.setWeights(before);
    log(`fine-tuning did not lower the validation loss (${bestValLoss.toFixed(4)} against ${headValLoss.toFixed(4)} with the head alone): the head-only weights are kept`);
  }
  tf.dispose(before);
  const offset = headResult.history.length;
  const result: FitResult = {
    history: [...headResult.history, ...tuned.history.map((r) => ({ ...r, epoch: r.epoch + offset }))],
    bestEpoch: kept ? tuned.bestEpoch + offset : headResult.bestEpoch,
    stoppedEarly: headResult.stoppedEarly,
    interrupted: tuned.interrupted,
  };
  return { model, result, embedSeconds, fineTune: { layers, epochs: tuned.history.length, kept, bestValLoss, headValLoss }, dispose };
}

function fitOptionsOf(spec: TrainingSpec, epochs: number, learningRate: number): FitOptions {
  return {
    epochs,
    batchSize: spec.batchSize,
    optimizer: spec.optimizer,
    learningRate,
    patience: spec.patience,
    lrPatience: spec.lrPatience,
    lrFactor: spec.lrFactor,
    minLearningRate: spec.minLearningRate,
    seed: spec.seed,
  };
}
