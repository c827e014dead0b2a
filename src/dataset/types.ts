import type { Writable } from 'node:stream';

/** What the model said about a frame when it was kept. */
export interface SamplePrediction {
  label: string;
  confidence: number;
  uncertain: boolean;
  /** The frame's own top label before threshold and smoothing. */
  frameTop: { label: string; confidence: number };
}

/** One line of dataset/index.jsonl for a kept frame. */
export interface SampleRecord {
  time: string;
  /** label/name.jpg, relative to the dataset folder. */
  file: string;
  label: string;
  kind: 'capture' | 'hard';
  /** Why a hard example was kept. */
  reason?: string;
  source: string;
  seq: number;
  /** The source's own truth for the frame (the demo scene and test clips know it). */
  truth?: string;
  width: number;
  height: number;
  bytes: number;
  model: { name: string; version: string };
  prediction: SamplePrediction;
}

/** A sample as the API lists it. */
export interface SampleInfo {
  id: string;
  label: string;
  name: string;
  bytes: number;
  /** ms since epoch (file time). */
  time: number;
  width?: number;
  height?: number;
  kind?: 'capture' | 'hard';
  reason?: string;
  prediction?: SamplePrediction;
}

export interface CaptureRequest {
  label: string;
  count: number;
  /** Seconds between samples; absent: a burst of consecutive frames. */
  everySeconds?: number;
}

export interface CaptureJob {
  id: number;
  label: string;
  count: number;
  everySeconds?: number;
  saved: number;
  state: 'running' | 'done' | 'stopped' | 'full' | 'failed';
  /** Why it ended early. */
  message?: string;
  startedAt: number;
  endedAt?: number;
}

export interface DatasetSummary {
  labels: Array<{ label: string; count: number; bytes: number }>;
  total: number;
  /** Disk used by samples and the index. */
  bytes: number;
  capBytes: number;
  /** Free space left on the disk, and the least capture leaves free. */
  freeBytes: number;
  minFreeBytes: number;
  /** Set while capture is stopped for lack of space (the cap or the disk), saying why. */
  full?: string;
  capture?: CaptureJob;
  hardExamples: { enabled: boolean; threshold: number; onFlip: boolean; everySeconds: number };
  maxSide: number;
  maxBurst: number;
}

/** Pushed to live clients (socket.io `dataset`) as the dataset changes. */
export type DatasetNotice =
  | { type: 'sample'; sample: SampleInfo; job?: CaptureJob }
  | { type: 'job'; job: CaptureJob }
  | { type: 'full'; message: string }
  | { type: 'changed' };

export interface SamplePage {
  label: string;
  page: number;
  pageSize: number;
  pages: number;
  total: number;
  items: SampleInfo[];
}

/** What the server may ask of the dataset (through the DaemonView); it never builds paths itself. */
export interface DatasetView {
  summary(): DatasetSummary;
  /** Starts a capture; a burst resolves once it is done, a timed capture once it has started. */
  capture(request: unknown, origin: string): Promise<{ job: CaptureJob; samples: SampleInfo[] }>;
  stopCapture(): CaptureJob | undefined;
  list(label: unknown, page: unknown, pageSize: unknown): SamplePage;
  /** Every sample with its size (for `dataset pull`), and the index file's size. */
  files(includeUnlabelled: boolean): { files: Array<{ path: string; bytes: number }>; index: { bytes: number } };
  /** The sample's absolute file path (checked), for sending. */
  samplePath(label: unknown, name: unknown): string;
  indexPath(): string;
  thumbnail(label: unknown, name: unknown): Promise<Buffer>;
  move(label: unknown, name: unknown, to: unknown): Promise<SampleInfo>;
  remove(label: unknown, name: unknown): Promise<void>;
  /** Writes the dataset as a store-only zip to `out` as the files are read; resolves when done. */
  zip(out: Writable, includeUnlabelled: boolean): Promise<void>;
}
