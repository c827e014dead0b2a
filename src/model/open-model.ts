import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../config/load';
import type { Config } from '../config/schema';
import { ModelPackageError } from '../util/errors';
import type { Logger } from '../util/logger';
import { selectBackend, type BackendChoice } from './backend';
import { Classifier } from './classifier';
import { loadModelPackage } from './model-package';

/** A relative model path is looked up in the working directory, then in the install (models/default). */
export function resolveModelDir(configured: string): string {
  if (path.isAbsolute(configured) || fs.existsSync(configured)) return path.resolve(configured);
  const inInstall = path.join(projectRoot, configured);
  if (fs.existsSync(inInstall)) return inInstall;
  throw new ModelPackageError(path.resolve(configured), 'does not exist');
}

/** Picks the backend, loads and checks the package (model.path unless `dir` is given), and warms the model up. */
export async function openClassifier(config: Config, log: Logger, dir?: string): Promise<{ classifier: Classifier; backend: BackendChoice }> {
  const backend = await selectBackend(config['model.backend']);
  if (backend.skipped.length) log.debug({ skipped: backend.skipped }, 'backends passed over');
  const loaded = await loadModelPackage(dir ?? resolveModelDir(config['model.path']));
  const classifier = new Classifier(loaded);
  classifier.warmUp();
  return { classifier, backend };
}
