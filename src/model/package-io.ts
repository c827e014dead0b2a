import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { ModelPackageError } from '../util/errors';
import { checkTopologyAgainstWeights } from './topology-check';

type ModelArtifacts = tfTypes.io.ModelArtifacts;
type WeightsManifestEntry = tfTypes.io.WeightsManifestEntry;

export const MODEL_JSON = 'model.json';
export const METADATA_JSON = 'metadata.json';
export const WEIGHTS_BIN = 'weights.bin';

const BYTES_PER_ELEMENT: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1 };

export interface PackageArtifacts {
  artifacts: ModelArtifacts;
  format: 'layers-model' | 'graph-model';
  totalWeightBytes: number;
}

/** What model.json declares, checked against the files on disk, before any weight is read. */
interface PackageFiles {
  json: Record<string, unknown>;
  topology: Record<string, unknown>;
  format: 'layers-model' | 'graph-model';
  weightSpecs: WeightsManifestEntry[];
  shardFiles: string[];
  totalWeightBytes: number;
}

/**
 * Checks a package directory without reading its weights: model.json parses and has a topology
 * and a manifest, every shard exists inside the package, and each group's shards add up to the
 * bytes its weights declare. The inbox asks this of a settled copy, so it must stay cheap.
 */
export function checkPackageFiles(dir: string): PackageFiles {
  const modelFile = path.join(dir, MODEL_JSON);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ModelPackageError(dir, 'is not a directory');
  if (!fs.existsSync(modelFile)) throw new ModelPackageError(modelFile, 'is missing');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(modelFile, 'utf8'));
  } catch (err) {
    throw new ModelPackageError(modelFile, `is not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new ModelPackageError(modelFile, "has no 'modelTopology' object: not a TensorFlow.js model");
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) throw new ModelPackageError(modelFile, "has no 'weightsManifest'");

  const topology = json.modelTopology as Record<string, unknown>;
  const format = json.format === 'graph-model' || Array.isArray(topology.node) ? 'graph-model' : 'layers-model';

  const weightSpecs: WeightsManifestEntry[] = [];
  const shardFiles: string[] = [];
  let totalWeightBytes = 0;
  for (const group of manifest as Array<{ paths?: unknown; weights?: unknown }>) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new ModelPackageError(modelFile, "a weightsManifest entry lacks 'paths' or 'weights'");
    const expected = (group.weights as WeightsManifestEntry[]).reduce((sum, w) => sum + specByteLength(w, modelFile), 0);
    let actual = 0;
    for (const shard of group.paths as string[]) {
      const shardFile = path.resolve(dir, shard);
      if (path.relative(dir, shardFile).startsWith('..')) throw new ModelPackageError(modelFile, `weight path '${shard}' points outside the package`);
      if (!fs.existsSync(shardFile)) throw new ModelPackageError(shardFile, 'weight shard is missing');
      actual += fs.statSync(shardFile).size;
      shardFiles.push(shardFile);
    }
    if (actual !== expected) {
      throw new ModelPackageError(path.join(dir, (group.paths as string[]).join('+')), `weights have ${actual} bytes but model.json declares ${expected}`);
    }
    weightSpecs.push(...(group.weights as WeightsManifestEntry[]));
    totalWeightBytes += actual;
  }
  return { json, topology, format, weightSpecs, shardFiles, totalWeightBytes };
}

/**
 * checkPackageFiles, plus: each layer's config agrees with its weights' shapes. What a package
 * must pass before anything is built from it; cheap (no weight is read).
 */
export function checkPackageConsistency(dir: string): PackageFiles {
  const files = checkPackageFiles(dir);
  if (files.format === 'layers-model') checkTopologyAgainstWeights(files.topology, files.weightSpecs, path.join(dir, MODEL_JSON));
  return files;
}

/**
 * Reads model.json and its weight shards from a package directory, checked as
 * `checkPackageConsistency` does, before TensorFlow.js sees them. This is the project's own IO
 * handler, so reading files needs no tfjs-node. Shards are read off the main thread: a model
 * swapped in while the camera streams must not stall it for the read (168 MB of seed CNN
 * weights take 0.2 s here from the page cache, seconds from a Pi's SD card). Each is read once
 * into its own buffer and handed over as it is (TF.js takes a list of buffers): joining them
 * would make two more copies of the weights.
 */
export async function readPackageArtifacts(dir: string): Promise<PackageArtifacts> {
  const { json, topology, format, weightSpecs, shardFiles, totalWeightBytes } = checkPackageConsistency(dir);
  const shards: ArrayBuffer[] = [];
  for (const file of shardFiles) shards.push(await readWhole(file));
  const readBytes = shards.reduce((sum, shard) => sum + shard.byteLength, 0);
  if (readBytes !== totalWeightBytes) throw new ModelPackageError(dir, `weight shards changed while being read (${readBytes} bytes, expected ${totalWeightBytes})`);
  return {
    format,
    totalWeightBytes,
    artifacts: {
      modelTopology: topology as tfTypes.io.ModelArtifacts['modelTopology'],
      weightSpecs,
      weightData: shards.length === 1 ? shards[0] : shards,
      format: typeof json.format === 'string' ? json.format : undefined,
      generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : undefined,
      convertedBy: typeof json.convertedBy === 'string' || json.convertedBy === null ? (json.convertedBy as string | null) : undefined,
      signature: json.signature as object | undefined,
      userDefinedMetadata: json.userDefinedMetadata as tfTypes.io.ModelArtifacts['userDefinedMetadata'],
      modelInitializer: json.modelInitializer as object | undefined,
    },
  };
}

/** A file's bytes as an ArrayBuffer of exactly its length (a large read owns its buffer; a small one may sit in Node's pool). */
async function readWhole(file: string): Promise<ArrayBuffer> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    throw new ModelPackageError(file, `cannot be read: ${(err as Error).message}`);
  }
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer as ArrayBuffer;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function specByteLength(spec: WeightsManifestEntry, file: string): number {
  if (!spec || typeof spec.name !== 'string' || !Array.isArray(spec.shape)) throw new ModelPackageError(file, 'a weight entry lacks a name or shape');
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = BYTES_PER_ELEMENT[dtype];
  if (size === undefined) throw new ModelPackageError(file, `weight '${spec.name}' has unsupported dtype '${dtype}'`);
  return spec.shape.reduce((a, b) => a * b, 1) * size;
}

/** An IO handler that loads already-read artifacts (tf.loadLayersModel / loadGraphModel take it). */
export function artifactsHandler(artifacts: ModelArtifacts): tfTypes.io.IOHandler {
  return { load: async () => artifacts };
}

/**
 * An IO handler that writes model.json + one weights.bin shard into `dir` (model.save(handler)).
 * Written to a temporary name and renamed so that a reader never sees half a package.
 */
export function directorySaveHandler(dir: string): tfTypes.io.IOHandler {
  return {
    save: async (artifacts) => {
      fs.mkdirSync(dir, { recursive: true });
      const weightData = artifacts.weightData;
      if (weightData === undefined || Array.isArray(weightData)) throw new Error('expected one weights ArrayBuffer');
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
      };
      writeAtomically(path.join(dir, WEIGHTS_BIN), Buffer.from(weightData));
      writeAtomically(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.byteLength } };
    },
  };
}

export function writeAtomically(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
