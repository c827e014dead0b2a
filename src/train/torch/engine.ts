import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TrainingEngineError } from '../../util/errors';
import type { StepSettings, TrainingSteps } from '../training-steps';

/** Debian's interpreter, where python3-torch installs (a pyenv or venv python3 on PATH may lack it). */
export const DEFAULT_PYTHON = '/usr/bin/python3';
/** The engine's program: sources are not compiled, so it is found beside this file's source. */
const STEPS_SCRIPT = path.resolve(__dirname, '..', '..', '..', '..', 'src', 'train', 'torch', 'steps.py');
/** tmpfs, where a batch file costs no disk writes. */
const SHARED_DIR = '/dev/shm';
/** The engine's descriptor of the batch file (stdio slot 3). */
const SHARED_FD = 3;
/** How much of the engine's stderr an error quotes. */
const STDERR_TAIL = 2000;

export interface TorchEngineOptions {
  python?: string;
  /** torch.set_num_threads; default: every CPU this process may run on. */
  threads?: number;
  seed: number;
  /** For tests: another program speaking the same protocol. */
  script?: string;
  /** Where the shared batch file goes (tmpfs); a folder that does not exist sends batches through the pipe. */
  sharedDir?: string;
}

interface Reply {
  header: Record<string, unknown> & { bytes: number; error?: string };
  payload: Buffer;
}

/**
 * The training steps in PyTorch, in a child process running src/train/torch/steps.py: the
 * network is rebuilt there layer for layer from the TF.js model (its config and its initial
 * weights), trained there, and its weights are copied back into the TF.js model when `fit`
 * needs them. Requests go one at a time over stdin and stdout.
 */
export class TorchSteps implements TrainingSteps {
  private readonly child: ChildProcess;
  private readonly pending: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private received: Buffer[] = [];
  private receivedBytes = 0;
  private stderr = '';
  private exited: Error | undefined;
  private info = { torch: '?', threads: 0 };
  /** Bytes still missing before the reply being received is whole (0: its header is not in yet). */
  private replyBytes = 0;
  private readonly perExample: number;
  /** Where batches are handed over; undefined: in the pipe, after the request. */
  private batches: SharedBatchFile | undefined;

  /** A step is in flight (the shared file holds its batch until it settles). */
  private stepping = false;

  private constructor(private readonly model: tf.LayersModel, private readonly units: number, options: TorchEngineOptions) {
    this.perExample = (model.inputs[0].shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    const python = options.python ?? DEFAULT_PYTHON;
    this.batches = SharedBatchFile.create(options.sharedDir ?? SHARED_DIR);
    // The batch file goes to the engine as its fd 3: it has no name left by then, so nothing stays behind however either process ends.
    this.child = spawn(python, [options.script ?? STEPS_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe', this.batches?.fd ?? 'ignore'] });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-STDERR_TAIL)));
    // A write to a process that has died fails with EPIPE; the 'close' handler reports why.
    this.child.stdin!.on('error', () => {});
    this.child.on('error', (err) => this.fail(new TrainingEngineError(`cannot start ${python}: ${err.message}`)));
    // 'close', not 'exit': by then its stderr (the reason it ended) and its last replies are read.
    this.child.on('close', (code, signal) => {
      const last = this.stderr.trim().split('\n').slice(-1)[0] ?? '';
      this.fail(new TrainingEngineError(`the PyTorch engine (${python}) ended (${signal ?? `exit code ${code}`})${last ? `: ${last}` : ''}`));
    });
  }

  get description(): string {
    return `PyTorch ${this.info.torch}, ${this.info.threads} thread${this.info.threads === 1 ? '' : 's'}`;
  }

  /** Starts the engine with the model's layers and current weights; rejects with the reason when PyTorch cannot run it. */
  static async start(model: tf.LayersModel, settings: StepSettings, options: TorchEngineOptions): Promise<TorchSteps> {
    const engine = new TorchSteps(model, settings.units, options);
    try {
      // Layer by layer (model.getWeights() puts every trainable weight before batch norm's statistics).
      const weights = model.layers.flatMap((l) => l.getWeights());
      const reply = await engine.request(
        {
          op: 'build',
          layers: model.layers.map((l) => ({ className: l.getClassName(), name: l.name, config: l.getConfig() })),
          input: model.inputs[0].shape.slice(1),
          weights: weights.map((w) => w.shape),
          loss: settings.units === 1 ? 'binary' : 'categorical',
          optimizer: settings.optimizer,
          lr: settings.learningRate,
          seed: options.seed,
          threads: options.threads,
          batches: engine.batches ? SHARED_FD : undefined,
        },
        weights.map((w) => {
          const values = w.dataSync() as Float32Array;
          return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
        }),
      );
      engine.info = { torch: String(reply.header.torch), threads: Number(reply.header.threads) };
      return engine;
    } catch (err) {
      await engine.dispose();
      throw err;
    }
  }

  async step(x: Float32Array, y: Float32Array, count: number, learningRate: number): Promise<[number, number]> {
    // The engine reads a batch where it lies in the shared file, so one step at a time (fit sends them so).
    if (this.stepping) throw new Error('TorchSteps.step: the previous step has not settled');
    this.stepping = true;
    try {
      const payload = [view(x, count * this.perExample), view(y, count * this.units)];
      const header = { op: 'step', count, units: this.units, lr: learningRate };
      const reply = this.batches ? await this.request({ ...header, shared: 0, sharedBytes: this.batches.write(payload) }, []) : await this.request(header, payload);
      // A diverging run's loss comes as null (JSON has no NaN): it is NaN here, as TF.js reports it.
      return [reply.header.loss === null ? NaN : Number(reply.header.loss), Number(reply.header.accuracy)];
    } finally {
      this.stepping = false;
    }
  }

  /** The engine's outputs (after the output layer's activation) for `count` images. */
  async predict(x: Float32Array, count: number): Promise<Float32Array> {
    const reply = await this.request({ op: 'predict', count }, [view(x, count * this.perExample)]);
    return floats(reply.payload);
  }

  async syncModel(): Promise<void> {
    const reply = await this.request({ op: 'weights' }, []);
    const shapes = reply.header.shapes as number[][];
    const values = floats(reply.payload);
    let offset = 0;
    const tensors = shapes.map((shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const t = tf.tensor(values.subarray(offset, offset + n), shape);
      offset += n;
      return t;
    });
    try {
      let next = 0;
      for (const layer of this.model.layers) {
        const count = layer.weights.length;
        if (count) layer.setWeights(tensors.slice(next, next + count));
        next += count;
      }
      if (next !== tensors.length) throw new TrainingEngineError(`the PyTorch engine sent ${tensors.length} weight arrays, the model has ${next}`);
    } finally {
      tf.dispose(tensors);
    }
  }

  async dispose(): Promise<void> {
    this.batches?.close();
    this.batches = undefined;
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  private request(header: Record<string, unknown>, payload: Buffer[]): Promise<Reply> {
    if (this.exited) return Promise.reject(this.exited);
    const bytes = payload.reduce((n, b) => n + b.length, 0);
    const encoded = Buffer.from(JSON.stringify({ ...header, bytes }));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(encoded.length);
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin!.write(length);
      this.child.stdin!.write(encoded);
      for (const b of payload) this.child.stdin!.write(b);
    }).then((reply) => {
      if (reply.header.error) throw new TrainingEngineError(`the PyTorch engine refused '${String(header.op)}': ${reply.header.error}`);
      return reply;
    });
  }

  private onData(chunk: Buffer): void {
    try {
      this.receive(chunk);
    } catch (err) {
      // A reply that does not parse: the engine is not speaking the protocol any more.
      this.fail(new TrainingEngineError(`the PyTorch engine sent a reply edgesight cannot read: ${(err as Error).message}`));
      this.child.kill('SIGKILL');
    }
  }

  private receive(chunk: Buffer): void {
    this.received.push(chunk);
    this.receivedBytes += chunk.length;
    for (;;) {
      // Chunks are joined only once the reply they belong to is whole (a weights reply can be 100+ MB).
      if (this.receivedBytes < Math.max(4, this.replyBytes)) return;
      const all = this.received.length === 1 ? this.received[0] : Buffer.concat(this.received);
      this.received = [all];
      const headerLength = all.readUInt32LE(0);
      if (all.length < 4 + headerLength) {
        this.replyBytes = 4 + headerLength;
        return;
      }
      const header = JSON.parse(all.subarray(4, 4 + headerLength).toString()) as Reply['header'];
      const end = 4 + headerLength + header.bytes;
      if (all.length < end) {
        this.replyBytes = end;
        return;
      }
      const payload = Buffer.from(all.subarray(4 + headerLength, end));
      this.received = all.length > end ? [all.subarray(end)] : [];
      this.receivedBytes = all.length - end;
      this.replyBytes = 0;
      this.pending.shift()?.resolve({ header, payload });
    }
  }

  private fail(err: Error): void {
    this.exited ??= err;
    for (const p of this.pending.splice(0)) p.reject(this.exited);
  }
}

/**
 * A file on tmpfs (/dev/shm) that each batch is written into and the engine maps: one copy of
 * the batch instead of the pipe's two, and no round trips through a 1 MiB pipe buffer.
 */
class SharedBatchFile {
  private size = 0;

  private constructor(readonly fd: number) {}

  /** Undefined where `dir` does not exist (batches then go through the pipe). */
  static create(dir: string): SharedBatchFile | undefined {
    if (!fs.existsSync(dir)) return undefined;
    const file = path.join(dir, `edgesight-batches-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
    try {
      const fd = fs.openSync(file, 'wx+', 0o600);
      // Open, it needs no name: the engine gets the descriptor itself.
      fs.rmSync(file, { force: true });
      return new SharedBatchFile(fd);
    } catch {
      return undefined;
    }
  }

  /** Writes the parts one after another from the start of the file; answers their total length. */
  write(parts: Buffer[]): number {
    const total = parts.reduce((n, b) => n + b.length, 0);
    if (total > this.size) {
      fs.ftruncateSync(this.fd, total);
      this.size = total;
    }
    let offset = 0;
    for (const part of parts) {
      fs.writeSync(this.fd, part, 0, part.length, offset);
      offset += part.length;
    }
    return total;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/** The first `length` values as bytes, without a copy (the caller keeps the array untouched until the reply). */
function view(values: Float32Array, length: number): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, length * 4);
}

/** A payload as float32 values (copied when it is not 4-byte aligned in its pool). */
function floats(payload: Buffer): Float32Array {
  if (payload.byteOffset % 4 === 0) return new Float32Array(payload.buffer, payload.byteOffset, payload.length / 4);
  return new Float32Array(Uint8Array.from(payload).buffer);
}
