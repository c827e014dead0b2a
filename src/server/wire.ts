import type { FrameResult } from '../pipeline/pipeline';

/**
 * The JSON shape of one classified frame in the public API (socket.io `frame` and
 * `prediction`, GET /api/predictions*). Times are ms since the epoch; timings are ms.
 */
export interface PredictionRecord {
  seq: number;
  capturedAt: number;
  decidedAt: number;
  label: string;
  confidence: number;
  uncertain: boolean;
  topk: Array<{ label: string; confidence: number }>;
  timings: { read: number; preprocess: number; infer: number; overlay: number; encode: number };
  width: number;
  height: number;
  /** The demo scene's true label. */
  truth?: string;
}

export function toRecord(result: FrameResult): PredictionRecord {
  const d = result.decision;
  const t = result.timings;
  const record: PredictionRecord = {
    seq: result.seq,
    capturedAt: result.capturedAt,
    decidedAt: result.decidedAt,
    label: d.label,
    confidence: round4(d.confidence),
    uncertain: d.uncertain,
    topk: d.topk.map((r) => ({ label: r.label, confidence: round4(r.confidence) })),
    timings: { read: round3(t.read), preprocess: round3(t.preprocess), infer: round3(t.infer), overlay: round3(t.overlay), encode: round3(t.encode) },
    width: result.width,
    height: result.height,
  };
  if (result.truth !== undefined) record.truth = result.truth;
  return record;
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function round3(x: number): number {
  return Math.round(x * 1e3) / 1e3;
}
