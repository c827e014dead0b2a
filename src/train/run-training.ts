import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../model/backend';
import type { PreprocessContract } from '../vision/preprocess';
import { directorySaveHandler, METADATA_JSON, writeAtomically } from '../model/package-io';
import { SELFTEST_DIR } from '../model/self-test';
import { DatasetError, TrainingEngineError } from '../util/errors';
import { cv } from '../vision/cv';
import { Preprocessor } from '../vision/preprocess';
import { buildArchitecture } from './architectures';
import { loadBase, type BaseModel } from './base-model';
import { countsOf, findDataset, fingerprint } from './dataset';
import { loadImages, type ImageSet } from './images';
import { classMetrics, formatMetrics, type ClassMetrics } from './metrics';
import { augments, type TrainingSpec } from './options';
import { ProgressBar, formatSeconds } from './progress';
import { writeReport, type Misclassified } from './report';
import { selectTrainingSteps } from './select-steps';
import { fit, predictSet, topClasses, type FitHooks, type FitResult } from './trainer';
import { trainTransfer, type TransferOutcome } from './transfer';
import { registerWasmTrainingKernels } from './wasm-gradients';

export interface TrainingOutcome {
  fit: FitResult;
  metrics: ClassMetrics;
  packageDir: string;
  reportFiles: string[];
  /** The signal (SIGINT or SIGTERM) that stopped training early, if one did. */
  stoppedBy?: NodeJS.Signals;
}

/** The preprocessing a training spec means, written into the package for the daemon to follow. */
export function contractOf(spec: TrainingSpec): PreprocessContract {
  return { width: spec.width, height: spec.height, channels: spec.color === 'grayscale' ? 1 : 3, resizeMode: spec.resizeMode, colorOrder: 'rgb', range: [0, 1], invert: false, contrast: 'none' };
}

/**
 * `edgesight train` from start to end: find and check the dataset (counts printed before any
 * training), decode it, train with progress, then write the package (with self-test images the
 * model gets right) and the report. SIGINT or SIGTERM stops after the current batch and keeps the
 * best epoch; a second signal exits at once.
 */
export async function runTraining(spec: TrainingSpec, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<TrainingOutcome> {
  const files = findDataset(spec.data, spec.validationSplit, spec.seed);
  if (spec.classMode === 'binary' && files.classes.length !== 2) throw new DatasetError(`--class-mode binary needs exactly two classes, ${spec.data} has ${files.classes.length} (${files.classes.join(', ')})`);
  log(`dataset ${spec.data} (${files.layout === 'train-validation' ? 'train/ and validation/ folders' : `stratified split, ${Math.round(spec.validationSplit * 100)}% validation, seed ${spec.seed}`}):`);
  for (const c of countsOf(files)) log(`  ${c.label.padEnd(20)} ${String(c.train).padStart(6)} train ${String(c.validation).padStart(6)} validation`);

  const backend = await selectBackend(spec.backend);
  if (backend.name === 'wasm') registerWasmTrainingKernels();
  // With a base, its preprocessing contract is the package's: the images are made the way it was trained.
  const base = spec.transfer ? await loadBase(spec.transfer.base, spec.transfer.layer) : undefined;
  try {
    return await trainAndExport(spec, files, backend.name, base, log);
  } finally {
    base?.dispose();
  }
}

async function trainAndExport(spec: TrainingSpec, files: ReturnType<typeof findDataset>, backendName: string, base: BaseModel | undefined, log: (line: string) => void): Promise<TrainingOutcome> {
  const contract = base ? base.contract : contractOf(spec);
  const preprocessor = new Preprocessor(contract);
  const loadedTrain = await loadImages(files.train, preprocessor);
  const loadedValidation = await loadImages(files.validation, preprocessor);
  const skipped = [...loadedTrain.skipped, ...loadedValidation.skipped];
  if (skipped.length) {
    log(`skipped ${skipped.length} image(s) that could not be read:`);
    for (const s of skipped.slice(0, 50)) log(`  ${s.file}: ${s.reason}`);
    if (skipped.length > 50) log(`  ... and ${skipped.length - 50} more`);
  }
  const train = loadedTrain.images;
  const validation = loadedValidation.images;
  // A class whose every image failed to decode is as empty as an empty folder.
  files.classes.forEach((label, i) => {
    if (!train.labels.includes(i)) throw new DatasetError(`dataset ${spec.data}: class '${label}' has no readable training images`);
  });
  if (validation.labels.length === 0) throw new DatasetError(`dataset ${spec.data}: no readable validation images (add more images or raise --validation-split)`);

  const units = spec.classMode === 'binary' ? 1 : files.classes.length;
  const outputs = units === 1 ? 'one sigmoid unit (binary)' : `${units}-way softmax`;
  const fitting = `${spec.optimizer} lr ${spec.learningRate}, batch ${spec.batchSize}, up to ${spec.epochs} epochs${augments(spec.augmentation) ? ', augmented' : ''}`;

  // SIGTERM (systemd, a CI runner, `timeout`) is asked to stop exactly as Ctrl-C is.
  let interrupts = 0;
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    stoppedBy ??= signal;
    if (interrupts === 1) log(`\n${signal === 'SIGINT' ? '' : `${signal}: `}stopping after this batch; the best epoch so far is kept (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit at once)`);
    else process.exit(128 + os.constants.signals[signal]);
  };
  const runPhase = async (name: string, epochs: number, run: (hooks: FitHooks) => Promise<FitResult>): Promise<FitResult> => {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const bar = new ProgressBar(process.stderr, epochs);
    try {
      bar.startEpoch();
      return await run({
        onBatch: (epoch, done, total, loss, acc) => bar.batch(epoch, done, total, loss, acc),
        onEpoch: (r, improved) => {
          bar.endEpoch(`${name ? `${name} ` : ''}epoch ${r.epoch}/${epochs} loss ${r.loss.toFixed(4)} acc ${(r.accuracy * 100).toFixed(1)}% | val_loss ${r.valLoss.toFixed(4)} val_acc ${(r.valAccuracy * 100).toFixed(1)}% | lr ${r.learningRate.toPrecision(2)} | ${formatSeconds(r.seconds)}, ${r.samplesPerSecond.toFixed(0)} samples/s${improved ? ' | best so far' : ''}`);
          bar.startEpoch();
        },
        shouldStop: () => interrupts > 0,
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  };

  let model: tf.LayersModel;
  let result: FitResult;
  let transfer: TransferOutcome | undefined;
  let engine = `TF.js ${backendName}`;
  if (base && spec.transfer) {
    log(`transfer learning from ${base.dir} (${base.kind}), frozen up to layer '${base.layer}'${base.defaultCut ? ' (the default cut)' : ''}${base.pooled ? ', average-pooled' : ''}: ${base.embeddingSize}-value embeddings; head dense ${spec.transfer.headUnits} + dropout + ${outputs}; input ${contract.width}x${contract.height}x${contract.channels} as the base wants; TF.js backend ${backendName}; ${fitting}`);
    transfer = await trainTransfer(base, { train, validation }, preprocessor, { ...spec, transfer: spec.transfer }, units, runPhase, log);
    model = transfer.model;
    result = transfer.result;
  } else {
    model = buildArchitecture(spec.architecture, { height: spec.height, width: spec.width, channels: contract.channels, classes: units, seed: spec.seed, alpha: spec.alpha });
    const steps = await selectTrainingSteps(spec.engine, model, { optimizer: spec.optimizer, learningRate: spec.learningRate, units }, { python: spec.python, seed: spec.seed }, log);
    engine = steps?.description ?? `TF.js ${backendName}`;
    log(`model ${spec.architecture}: ${model.countParams().toLocaleString('en')} weights, input ${spec.width}x${spec.height}x${contract.channels}, ${outputs}; training steps on ${engine}; ${fitting}`);
    const scratch = model;
    result = await runPhase('', spec.epochs, (hooks) =>
      fit(scratch, { train, validation }, preprocessor, units, {
        epochs: spec.epochs,
        batchSize: spec.batchSize,
        optimizer: spec.optimizer,
        learningRate: spec.learningRate,
        patience: spec.patience,
        lrPatience: spec.lrPatience,
        lrFactor: spec.lrFactor,
        minLearningRate: spec.minLearningRate,
        seed: spec.seed,
        augmentation: augments(spec.augmentation) ? spec.augmentation : undefined,
      }, { ...hooks, steps }),
    );
  }
  const failure = result.engineFailure;
  if (failure) {
    log(`training stopped: ${failure.message}`);
    if (result.history.length === 0) throw failure;
  }
  if (result.history.length === 0) throw new DatasetError('training stopped before the first epoch ended: nothing to keep');
  if (result.stoppedEarly) log(`early stop: no better validation loss for ${spec.patience} epochs`);
  if (result.interrupted && !failure) log('interrupted');
  log(`keeping epoch ${result.bestEpoch} (best validation loss ${result.history[result.bestEpoch - 1].valLoss.toFixed(4)})`);

  const { predicted, confidence } = topClasses(predictSet(model, validation, preprocessor, spec.batchSize), units);
  const metrics = classMetrics(files.classes, validation.labels, predicted);
  log(formatMetrics(metrics));

  const packageDir = path.resolve(spec.out);
  const transferRecord = base && spec.transfer && transfer ? transferRecordOf(base, spec, transfer) : undefined;
  await exportPackage(model, packageDir, { spec, contract, files, sets: { train, validation }, result, metrics, predicted, confidence, transfer: transferRecord, engine });
  if (transfer) transfer.dispose();
  else model.dispose();
  const misclassified: Misclassified[] = [];
  for (let i = 0; i < predicted.length && misclassified.length < 64; i++) {
    if (predicted[i] === validation.labels[i]) continue;
    misclassified.push({ pixels: validation.pixels[i], width: contract.width, height: contract.height, channels: contract.channels, colorOrder: 'rgb', file: path.relative(spec.data, validation.files[i]), truth: files.classes[validation.labels[i]], predicted: files.classes[predicted[i]], confidence: confidence[i] });
  }
  const reportFiles = writeReport(path.join(packageDir, 'report'), {
    title: `edgesight training report: ${path.basename(packageDir)}`,
    summary: [
      ['dataset', `${path.resolve(spec.data)} (${files.classes.length} classes, ${train.labels.length} train / ${validation.labels.length} validation images${skipped.length ? `, ${skipped.length} unreadable skipped` : ''})`],
      ['model', transferRecord ? `transfer-learned from ${transferRecord.base} (${transferRecord.baseKind}), cut at layer '${transferRecord.layer}', head dense ${transferRecord.headUnits}, ${transferRecord.fineTune ? `fine-tuned the last ${transferRecord.fineTune.layers} layers for ${transferRecord.fineTune.epochs} epochs (${transferRecord.fineTune.kept ? 'kept' : 'not kept: no better validation loss'})` : 'base frozen (no fine-tuning)'}; input ${contract.width}x${contract.height}, ${spec.classMode}` : `${spec.architecture}, input ${spec.width}x${spec.height} ${spec.color}, ${spec.classMode}`],
      ['training', `${spec.optimizer} lr ${spec.learningRate}, batch ${spec.batchSize}, steps on ${engine}, ${result.history.length} of ${spec.epochs} epochs${result.stoppedEarly ? ' (early stop)' : ''}${result.interrupted ? ' (interrupted)' : ''}, kept epoch ${result.bestEpoch}`],
      ['augmentation', augments(spec.augmentation) ? JSON.stringify(spec.augmentation) : 'none'],
      ['created', new Date().toISOString()],
    ],
    counts: countsOf(files),
    history: result.history,
    bestEpoch: result.bestEpoch,
    metrics,
    misclassified,
  });
  log(`wrote the model package ${packageDir} and the report ${reportFiles[0]}`);
  // Written, and still a failure: a script must not take a cut-short run for a finished one.
  if (failure) throw new TrainingEngineError(`${failure.message} (the package holds epoch ${result.bestEpoch}, the best before that)`);
  return { fit: result, metrics, packageDir, reportFiles, stoppedBy };
}

/** What a training run knows, for the package's metadata and self-test images. */
interface TrainingRecord {
  spec: TrainingSpec;
  contract: PreprocessContract;
  files: ReturnType<typeof findDataset>;
  sets: { train: ImageSet; validation: ImageSet };
  result: FitResult;
  metrics: ClassMetrics;
  /** Per validation image: the class the kept model predicts, and its probability. */
  predicted: Int32Array;
  confidence: Float32Array;
  transfer?: TransferRecord;
  /** What ran the training steps: "TF.js wasm", "PyTorch 1.13.1, 4 threads". */
  engine: string;
}

/** The metadata's record of a transfer-learned model: from what, cut where, tuned how. */
interface TransferRecord {
  base: string;
  baseName: string;
  baseConventions: 'edgesight' | 'teachable-machine';
  /** "Keras HDF5 file (Keras 3.10.0)", "Teachable Machine export", "TF.js layers package". */
  baseKind: string;
  layer: string;
  defaultCut: boolean;
  pooled: boolean;
  embeddingSize: number;
  headUnits: number;
  augmentViews: number;
  embedSeconds: number;
  headEpochs: number;
  fineTune?: { layers: number; trainableLayers: string[]; epochs: number; learningRate: number; kept: boolean };
}

function transferRecordOf(base: BaseModel, spec: TrainingSpec, outcome: TransferOutcome): TransferRecord {
  const t = spec.transfer!;
  return {
    base: base.dir,
    baseName: base.name,
    baseConventions: base.conventions,
    baseKind: base.kind,
    layer: base.layer,
    defaultCut: base.defaultCut,
    pooled: base.pooled,
    embeddingSize: base.embeddingSize,
    headUnits: t.headUnits,
    augmentViews: augments(spec.augmentation) ? t.augmentViews : 1,
    embedSeconds: outcome.embedSeconds,
    headEpochs: outcome.result.history.length - (outcome.fineTune?.epochs ?? 0),
    fineTune: outcome.fineTune ? { layers: t.fineTuneLayers, trainableLayers: outcome.fineTune.layers, epochs: outcome.fineTune.epochs, learningRate: t.fineTuneLearningRate, kept: outcome.fineTune.kept } : undefined,
  };
}

async function exportPackage(model: tf.LayersModel, dir: string, { spec, contract, files, sets, result, metrics, predicted, confidence, transfer, engine }: TrainingRecord): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(directorySaveHandler(dir));
  // Up to two validation images per class that the model gets right with confidence: the
  // daemon classifies them before it swaps this package in, so a preprocessing mismatch is caught.
  fs.rmSync(path.join(dir, SELFTEST_DIR), { recursive: true, force: true });
  files.classes.forEach((label, c) => {
    let taken = 0;
    for (let i = 0; i < predicted.length && taken < 2; i++) {
      if (sets.validation.labels[i] !== c || predicted[i] !== c || confidence[i] < 0.9) continue;
      const source = sets.validation.files[i];
      const target = path.join(dir, SELFTEST_DIR, label, `${taken}${path.extname(source).toLowerCase()}`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(source, target);
      taken++;
    }
  });
  const metadata = {
    name: spec.name || path.basename(dir),
    version: new Date().toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-'),
    labels: files.classes,
    preprocess: contract,
    outputActivation: spec.classMode === 'binary' ? 'sigmoid' : 'softmax',
    training: {
      command: 'edgesight train',
      architecture: transfer ? 'transfer' : spec.architecture,
      transfer,
      // With a base, the input options were not used: record what the base decided instead.
      options: { ...spec, ...(transfer ? { width: contract.width, height: contract.height, color: contract.channels === 1 ? 'grayscale' : 'rgb', resizeMode: contract.resizeMode, architecture: 'transfer' } : {}), data: path.resolve(spec.data), out: dir },
      dataset: {
        root: path.resolve(spec.data),
        layout: files.layout,
        counts: countsOf({ classes: files.classes, train: sets.train.files.map((f, i) => ({ file: f, label: sets.train.labels[i] })), validation: sets.validation.files.map((f, i) => ({ file: f, label: sets.validation.labels[i] })) }),
        fingerprint: fingerprint(files),
      },
      metrics: { validationAccuracy: metrics.accuracy, perClass: metrics.perClass, confusion: metrics.confusion },
      history: result.history,
      bestEpoch: result.bestEpoch,
      stoppedEarly: result.stoppedEarly,
      interrupted: result.interrupted,
      createdAt: new Date().toISOString(),
      versions: { edgesight: packageVersion(), tfjs: tf.version.tfjs, backend: tf.getBackend(), steps: engine, opencv: `${cv.version.major}.${cv.version.minor}.${cv.version.revision}`, node: process.version },
    },
  };
  writeAtomically(path.join(dir, METADATA_JSON), JSON.stringify(metadata, null, 2) + '\n');
}

function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../../package.json') as { version: string }).version;
}
