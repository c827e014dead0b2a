import type { FrameResult } from '../pipeline/pipeline';
import { roundTo } from '../util/round';

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
    confidence: roundTo(d.confidence, 4),
    uncertain: d.uncertain,
    topk: d.topk.map((r) => ({ label: r.label, confidence: roundTo(r.confidence, 4) })),
    timings: { read: roundTo(t.read, 3), preprocess: roundTo(t.preprocess, 3), infer: roundTo(t.infer, 3), overlay: roundTo(t.overlay, 3), encode: roundTo(t.encode, 3) },
    width: result.width,
    height: result.height,
  };
  if (result.truth !== undefined) record.truth = result.truth;
  return record;
}
