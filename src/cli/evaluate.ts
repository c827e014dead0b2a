import * as path from 'node:path';
import { selectBackend } from '../model/backend';
import { Classifier } from '../model/classifier';
import { loadModelPackage } from '../model/model-package';
import { resolveModelDir } from '../model/open-model';
import { findDataset } from '../train/dataset';
import { classMetrics, formatMetrics } from '../train/metrics';
import { DatasetError, errorMessage, UsageError } from '../util/errors';
import { readImageFile } from '../vision/read-image';
import { backendOption, parseCommandArgs } from './options';

/**
 * `edgesight evaluate --model DIR --data DIR [--json]`: every image of a dataset folder (its
 * validation/ folder when it has one) classified through the daemon's own Classifier, then
 * accuracy, per-class precision, recall and F1, and the confusion matrix.
 */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('evaluate', argv, { model: { type: 'string', short: 'm' }, data: { type: 'string', short: 'd' }, json: { type: 'boolean', short: 'j' }, backend: { type: 'string' } } as const);
  if (!values.model || !values.data) throw new UsageError('evaluate: give --model DIR (a model package) and --data DIR (one folder of images per class)');
  await selectBackend(backendOption('evaluate', values.backend));
  const loaded = await loadModelPackage(resolveModelDir(values.model));
  const classifier = new Classifier(loaded);
  const labels = loaded.metadata.labels;
  const files = findDataset(values.data, 0.5, 1);
  const images = files.layout === 'train-validation' ? files.validation : [...files.train, ...files.validation];
  const unknown = files.classes.filter((c) => !labels.includes(c));
  if (unknown.length) throw new DatasetError(`evaluate: ${values.data} has class folder(s) ${unknown.map((u) => `'${u}'`).join(', ')} that the model does not know (its labels: ${labels.join(', ')})`);

  const truth: number[] = [];
  const predicted: number[] = [];
  let unreadable = 0;
  for (const { file, label } of images) {
    const mat = await readImageFile(file).catch((err: unknown) => {
      process.stderr.write(`edgesight: ${errorMessage(err)}, skipped\n`);
    });
    if (!mat) {
      unreadable++;
      continue;
    }
    try {
      const { scores } = classifier.classify(mat);
      let best = 0;
      for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
      truth.push(labels.indexOf(files.classes[label]));
      predicted.push(best);
    } catch (err) {
      process.stderr.write(`edgesight: ${file}: ${errorMessage(err)}, skipped\n`);
      unreadable++;
    } finally {
      mat.release();
    }
  }
  classifier.dispose();
  const metrics = classMetrics(labels, truth, predicted);
  if (values.json) process.stdout.write(JSON.stringify({ model: path.resolve(values.model), data: path.resolve(values.data), unreadable, ...metrics }) + '\n');
  else process.stdout.write(`${path.resolve(values.model)} on ${path.resolve(values.data)}${files.layout === 'train-validation' ? ' (validation/)' : ''}${unreadable ? `, ${unreadable} unreadable skipped` : ''}\n${formatMetrics(metrics)}\n`);
  return unreadable ? 1 : 0;
}
