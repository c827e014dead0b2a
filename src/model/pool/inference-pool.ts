import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../../util/errors';
import type { Logger } from '../../util/logger';
import { largestDifference } from '../engine/probe-check';
import type { FromWorker, ToWorker, WorkerMemory, WorkerSetup } from './protocol';

/** A model as the pool loads it into each worker, and how each worker's copy is checked. */
export interface PoolModelSpec {
  /** For logs: the package it came from. */
  name: string;
  /** The model's topology and weights in memory (serialised again when a worker restarts). */
  artifacts(): Promise<tf.io.ModelArtifacts>;
  inputShape: [number, number, number];
  /** Inputs every worker runs after loading (which also warms it up)... */
  probes: readonly Float32Array[];
  /** ...and must answer as the model loaded in this process does, within `tolerance`. */
  expected: readonly Float32Array[];
  tolerance: number;
}

export interface RunResult {
  output: Float32Array;
  /** Time of the inference inside the worker. */
  workerMs: number;
}

/** One worker as /api/status and doctor show it. */
export interface WorkerStatus {
  index: number;
  state: 'starting' | 'ready' | 'dead';
  threadId: number | undefined;
  /** Ids of the models loaded and checked in it. */
  models: number[];
  memory: WorkerMemory | undefined;
}

export interface PoolStatus {
  size: number;
  backend: string;
  /** Workers ready now. */
  ready: number;
  crashes: number;
  respawns: number;
  workers: WorkerStatus[];
}

export interface PoolOptions {
  /** TF.js backend of the workers (WASM unless it cannot start). */
  backend?: WorkerSetup['backend'];
  /** A worker that crashes more often than this within CRASH_WINDOW_MS stays down. */
  maxCrashes?: number;
}

const CRASH_WINDOW_MS = 60_000;
const MEMORY_MAX_AGE_MS = 2000;

type RunTask = { kind: 'run'; model: number; input: Float32Array; count: number; elements: number; resolve: (r: RunResult) => void; reject: (e: Error) => void };
type LoadTask = { kind: 'load'; slot: Slot; model: number; spec: PoolModelSpec; resolve: () => void; reject: (e: Error) => void };
type Task = RunTask | LoadTask;

interface Slot {
  index: number;
  thread: Worker | undefined;
  state: 'starting' | 'ready' | 'dead';
  /** What the worker is doing now: one task at a time, so the pool always knows who is free. */
  current: Task | undefined;
  models: Set<number>;
  memory: WorkerMemory | undefined;
  memoryAt: number;
  crashTimes: number[];
  lastError: string | undefined;
  started: Promise<void> | undefined;
}

/**
 * Worker threads that run TF.js inference, each with its own WASM backend and its own copy of
 * every model the pool serves. Runs name their model by id, so serving a new model is a choice
 * made here on the main thread between two frames: the new model is first loaded and checked in
 * every worker while the old one goes on serving (a worker loading cannot run frames, so they
 * load one after another), and the old one is dropped from the workers only after its last run.
 *
 * Each worker runs one task at a time; a run goes to the first free worker holding its model,
 * and waits (in a queue no longer than the callers' own limit on runs in flight) only when none
 * is. A worker that crashes costs the run it was doing (rejected, the caller reports it) and is
 * started again with every model reloaded, unless it keeps crashing. Workers start on the first
 * model registered and end when the last one is released, so a pool a model does not use costs
 * nothing; stop() ends them all.
 */
export class InferencePool {
  readonly size: number;
  readonly backend: WorkerSetup['backend'];
  private readonly slots: Slot[];
  private readonly queue: Task[] = [];
  private readonly models = new Map<number, PoolModelSpec>();
  /** Models released while runs of theirs were still queued or running: dropped once those finish. */
  private readonly releasing = new Set<number>();
  private nextModel = 0;
  /** Registrations under way: the workers must not end for want of models meanwhile. */
  private registering = 0;
  private nextJob = 0;
  private nextAsk = 0;
  private crashes = 0;
  private respawns = 0;
  private stopped = false;
  private readonly maxCrashes: number;
  private readonly workerFile = path.join(__dirname, 'pool-worker.js');

  constructor(size: number, private readonly log: Logger, options: PoolOptions = {}) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`an inference pool needs at least one worker, got ${size}`);
    this.size = size;
    this.backend = options.backend ?? 'wasm';
    this.maxCrashes = options.maxCrashes ?? 3;
    this.slots = Array.from({ length: size }, (_, index) => ({ index, thread: undefined, state: 'dead', current: undefined, models: new Set<number>(), memory: undefined, memoryAt: 0, crashTimes: [], lastError: undefined, started: undefined }));
  }

  /**
   * Loads a model into every worker (starting them first if none runs), one worker after
   * another, and checks each one's outputs on the probes against `spec.expected`. Resolves with
   * the model's id once all have it; if any worker fails, the model is dropped from those that
   * loaded it and the promise rejects saying which worker and why: the models already served are
   * untouched either way.
   */
  async register(spec: PoolModelSpec): Promise<number> {
    if (this.stopped) throw new Error('the inference pool is stopped');
    this.registering++;
    try {
      await this.startWorkers();
    } finally {
      this.registering--;
    }
    const id = ++this.nextModel;
    this.registering++;
    try {
      const targets = this.slots.filter((s) => s.state === 'ready');
      if (targets.length === 0) throw new Error(`no inference worker could start${this.lastErrors()}`);
      for (const slot of targets) await this.loadInto(slot, id, spec);
    } catch (err) {
      this.dropEverywhere(id);
      this.registering--;
      this.settleReleases();
      throw err;
    }
    this.registering--;
    this.models.set(id, spec);
    return id;
  }

  /** Workers that can run the model now (ready, holding it, not busy loading another). */
  capacity(model: number): number {
    let n = 0;
    for (const slot of this.slots) if (slot.state === 'ready' && slot.models.has(model) && !this.loadPendingFor(slot)) n++;
    return n;
  }

  /** True while some worker holds the model or is being started to load it again: runs wait for it rather than fail. */
  serves(model: number): boolean {
    return this.slots.some((s) => s.state !== 'dead' && (s.models.has(model) || this.models.has(model)));
  }

  /** Runs `count` inputs laid end to end on a free worker holding the model. `input` must stay unchanged until it settles. */
  run(model: number, input: Float32Array, count: number): Promise<RunResult> {
    if (this.stopped) return Promise.reject(new Error('the inference pool is stopped'));
    if (!this.models.has(model)) return Promise.reject(new Error(`model ${model} is not served by the inference pool`));
    return new Promise<RunResult>((resolve, reject) => {
      const [h, w, c] = this.models.get(model)!.inputShape;
      this.queue.push({ kind: 'run', model, input, count, elements: count * h * w * c, resolve, reject });
      this.pump();
    });
  }

  /**
   * The model is no longer served. Runs of it already queued or running finish first (the
   * pipeline publishes them), then it is dropped from every worker; when no model is left the
   * workers end.
   */
  release(model: number): void {
    if (!this.models.delete(model)) return;
    this.releasing.add(model);
    this.settleReleases();
  }

  /** The pool as /api/status shows it; asks the workers for fresh memory numbers when these are old. */
  status(): PoolStatus {
    this.refreshMemory();
    return {
      size: this.size,
      backend: this.backend,
      ready: this.slots.filter((s) => s.state === 'ready').length,
      crashes: this.crashes,
      respawns: this.respawns,
      workers: this.slots.map((s) => ({ index: s.index, state: s.state, threadId: s.thread?.threadId, models: [...s.models], memory: s.memory })),
    };
  }

  /** Fresh memory numbers from every ready worker (doctor, the measure script). */
  async memory(): Promise<WorkerStatus[]> {
    await Promise.all(this.slots.filter((s) => s.state === 'ready').map((s) => this.askMemory(s)));
    return this.status().workers;
  }

  /** The worker threads alive now (diagnostics and tests). */
  threads(): Worker[] {
    return this.slots.flatMap((s) => (s.thread ? [s.thread] : []));
  }

  /** Ends every worker; queued and running work is rejected. Safe to call more than once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.models.clear();
    this.releasing.clear();
    for (const task of this.queue.splice(0)) task.reject(new Error('the inference pool stopped'));
    await this.endWorkers();
  }

  // --- workers ---

  private async startWorkers(): Promise<void> {
    const starting = this.slots.filter((s) => s.state === 'dead' && s.started === undefined).map((s) => this.spawn(s));
    await Promise.all([...starting, ...this.slots.map((s) => s.started)]);
  }

  /** Starts the slot's thread; resolves once it is ready (or has failed to start: the slot is then dead). */
  private spawn(slot: Slot): Promise<void> {
    const setup: WorkerSetup = { backend: this.backend };
    const thread = new Worker(this.workerFile, { workerData: setup });
    slot.thread = thread;
    slot.state = 'starting';
    slot.models.clear();
    slot.memory = undefined;
    const started = new Promise<void>((resolve) => {
      thread.on('message', (message: FromWorker) => {
        // A thread the pool has ended may still say something: it is no longer the slot's.
        if (slot.thread !== thread) return;
        if (message.type === 'ready') {
          slot.state = 'ready';
          slot.memory = message.memory;
          slot.memoryAt = Date.now();
          resolve();
          this.pump();
        } else if (message.type === 'fatal') {
          slot.lastError = message.error;
          this.log.error({ worker: slot.index, err: message.error }, `inference worker ${slot.index} could not start: ${message.error}`);
          void this.end(slot);
          resolve();
        } else {
          this.onMessage(slot, message);
        }
      });
      thread.on('error', (err) => (slot.lastError = errorMessage(err)));
      thread.on('exit', (code) => {
        resolve();
        this.onExit(slot, thread, code);
      });
    });
    slot.started = started.finally(() => {
      if (slot.thread === thread) slot.started = undefined;
    });
    return slot.started;
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'memory') {
      slot.memory = message.memory;
      slot.memoryAt = Date.now();
      this.memoryWaiters.get(message.ask)?.();
      this.memoryWaiters.delete(message.ask);
      return;
    }
    const task = slot.current;
    slot.current = undefined;
    if (message.type === 'ran' && task?.kind === 'run') task.resolve({ output: message.output, workerMs: message.ms });
    else if (message.type === 'runFailed' && task?.kind === 'run') task.reject(new Error(`inference worker ${slot.index}: ${message.error}`));
    else if (message.type === 'loaded' && task?.kind === 'load') {
      slot.memory = message.memory;
      slot.memoryAt = Date.now();
      const off = largestDifference(concat(task.spec.expected), message.outputs);
      if (off <= task.spec.tolerance) {
        slot.models.add(task.model);
        task.resolve();
      } else {
        this.post(slot, { type: 'drop', model: task.model });
        task.reject(new Error(`inference worker ${slot.index}: its outputs on the probe inputs differ from this process's by ${off.toExponential(1)} (limit ${task.spec.tolerance})`));
      }
    } else if (message.type === 'loadFailed' && task?.kind === 'load') task.reject(new Error(`inference worker ${slot.index} could not load it: ${message.error}`));
    this.pump();
    this.settleReleases();
  }

  /** A thread of the slot's that ended without the pool ending it: a crash, reported and recovered from. */
  private onExit(slot: Slot, thread: Worker, code: number): void {
    if (slot.thread !== thread) return;
    const task = slot.current;
    slot.current = undefined;
    slot.thread = undefined;
    slot.state = 'dead';
    slot.models.clear();
    slot.memory = undefined;
    this.crashes++;
    const why = slot.lastError ?? `exit code ${code}`;
    slot.lastError = undefined;
    task?.reject(new Error(`inference worker ${slot.index} crashed (${why})`));
    const now = Date.now();
    slot.crashTimes = slot.crashTimes.filter((t) => now - t < CRASH_WINDOW_MS);
    slot.crashTimes.push(now);
    const again = !this.stopped && this.models.size > 0 && slot.crashTimes.length <= this.maxCrashes;
    this.log.error({ worker: slot.index, err: why, crashesInWindow: slot.crashTimes.length }, `inference worker ${slot.index} crashed (${why}); ${again ? 'starting it again' : `it stays down (${slot.crashTimes.length} crashes in ${CRASH_WINDOW_MS / 1000} s)`}`);
    this.pump();
    if (again) void this.respawn(slot);
  }

  /** Starts a crashed worker again and reloads every model served; one that fails to load ends it for good. */
  private async respawn(slot: Slot): Promise<void> {
    this.respawns++;
    await this.spawn(slot);
    if (slot.state !== 'ready') return;
    try {
      for (const [id, spec] of this.models) await this.loadInto(slot, id, spec);
      this.log.info({ worker: slot.index }, `inference worker ${slot.index} is serving again`);
    } catch (err) {
      this.log.error({ worker: slot.index, err: errorMessage(err) }, `inference worker ${slot.index} could not reload the models; it stays down`);
      slot.crashTimes.push(...Array(this.maxCrashes + 1).fill(Date.now()));
      void this.end(slot);
    }
  }

  /** Loads one model into one worker through the task queue (after the worker's current run) and checks it. */
  private async loadInto(slot: Slot, model: number, spec: PoolModelSpec): Promise<void> {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'load', slot, model, spec, resolve, reject });
      this.pump();
    });
    this.log.debug({ worker: slot.index, model: spec.name, ms: Math.round(performance.now() - started) }, 'model loaded in an inference worker');
  }

  /**
   * Ends the slot's thread. The slot is free at once (a new thread may start in it while the
   * old one is still going), and the old thread's exit is not a crash: it is no longer the slot's.
   */
  private end(slot: Slot): Promise<void> {
    const thread = slot.thread;
    const task = slot.current;
    slot.thread = undefined;
    slot.state = 'dead';
    slot.current = undefined;
    slot.models.clear();
    slot.memory = undefined;
    task?.reject(new Error(`inference worker ${slot.index} was stopped`));
    if (!thread) return Promise.resolve();
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    this.exiting.add(exited);
    void exited.then(() => this.exiting.delete(exited));
    void thread.terminate();
    this.pump();
    return exited;
  }

  /** Ends every thread, and waits for those ended before (an idle pool's) to be gone too. */
  private async endWorkers(): Promise<void> {
    for (const slot of this.slots) void this.end(slot);
    await Promise.all([...this.exiting]);
  }

  // --- scheduling ---

  /** Gives each free worker the oldest task it can do; rejects runs no worker will ever take. */
  private pump(): void {
    for (let i = 0; i < this.queue.length; i++) {
      const task = this.queue[i];
      let slot: Slot | undefined;
      if (task.kind === 'load') {
        if (task.slot.state === 'dead') {
          this.queue.splice(i--, 1);
          task.reject(new Error(`inference worker ${task.slot.index} ended before it could load the model`));
          continue;
        }
        if (task.slot.state === 'ready' && !task.slot.current) slot = task.slot;
      } else {
        slot = this.slots.find((s) => s.state === 'ready' && !s.current && s.models.has(task.model));
        if (!slot && !this.serves(task.model)) {
          this.queue.splice(i--, 1);
          task.reject(new Error('no inference worker is left to run it'));
          continue;
        }
      }
      if (!slot) continue;
      this.queue.splice(i--, 1);
      slot.current = task;
      if (task.kind === 'load') {
        void task.spec.artifacts().then(
          (artifacts) => {
            if (slot.current !== task) return;
            const probes = concat(task.spec.probes);
            this.post(slot, { type: 'load', model: task.model, artifacts, probes, probeCount: task.spec.probes.length, inputShape: task.spec.inputShape });
          },
          (err: unknown) => {
            if (slot.current !== task) return;
            slot.current = undefined;
            task.reject(new Error(`the model could not be serialised for the inference workers: ${errorMessage(err)}`));
            this.pump();
          },
        );
      } else {
        // A shared buffer is passed by reference; anything else is copied (only the values used).
        const shared = task.input.buffer instanceof SharedArrayBuffer;
        const input = shared ? task.input.subarray(0, task.elements) : task.input.slice(0, task.elements);
        this.post(slot, { type: 'run', job: ++this.nextJob, model: task.model, input, count: task.count }, shared ? [] : [input.buffer as ArrayBuffer]);
      }
    }
  }

  private post(slot: Slot, message: ToWorker, transfer: ArrayBuffer[] = []): void {
    slot.thread?.postMessage(message, transfer);
  }

  private loadPendingFor(slot: Slot): boolean {
    return slot.current?.kind === 'load' || this.queue.some((t) => t.kind === 'load' && t.slot === slot);
  }

  /** Drops released models from the workers once none of their runs is queued or running; ends idle workers. */
  private settleReleases(): void {
    for (const model of this.releasing) {
      const busy = this.queue.some((t) => t.model === model) || this.slots.some((s) => s.current?.model === model);
      if (busy) continue;
      this.releasing.delete(model);
      this.dropEverywhere(model);
    }
    const idle = this.models.size === 0 && this.registering === 0 && this.releasing.size === 0 && this.queue.length === 0;
    if (idle && this.slots.some((s) => s.thread)) void this.endWorkers();
  }

  private dropEverywhere(model: number): void {
    for (const slot of this.slots) {
      if (!slot.models.delete(model)) continue;
      this.post(slot, { type: 'drop', model });
    }
  }

  // --- memory ---

  private readonly memoryWaiters = new Map<number, () => void>();
  /** Threads ended and not yet exited: stop() waits for them. */
  private readonly exiting = new Set<Promise<void>>();

  private refreshMemory(): void {
    const now = Date.now();
    for (const slot of this.slots) if (slot.state === 'ready' && now - slot.memoryAt > MEMORY_MAX_AGE_MS) void this.askMemory(slot);
  }

  private askMemory(slot: Slot): Promise<void> {
    const ask = ++this.nextAsk;
    // Answered after the worker's current task; a worker that dies meanwhile never answers, so the wait is bounded.
    slot.memoryAt = Date.now();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.memoryWaiters.delete(ask);
        resolve();
      }, 5000);
      this.memoryWaiters.set(ask, () => {
        clearTimeout(timer);
        resolve();
      });
      this.post(slot, { type: 'memory', ask });
    });
  }

  private lastErrors(): string {
    const errors = this.slots.map((s) => s.lastError).filter(Boolean);
    return errors.length ? `: ${[...new Set(errors)].join('; ')}` : '';
  }
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

