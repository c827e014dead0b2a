/**
 * The event model. An event is cut from the stream of smoothed decisions: it starts when a
 * label of interest has held for events.minSeconds (and that label's cooldown has passed) and
 * dates from the run's first frame; it ends on the first frame whose decision is another label
 * or uncertain, and then dates from the run's last frame. Times are ms since the epoch.
 */
export interface EventRecord {
  /** Sortable by start time, safe in a path: 'ev-' + start (base 36) + '-' + 6 hex. */
  id: string;
  label: string;
  start: number;
  /** null while the event is open. */
  end: number | null;
  /** Highest confidence of the label within the run. */
  peakConfidence: number;
  /** The best frame: the first with the peak confidence. */
  best: { seq: number; at: number; confidence: number };
  /** Frames classified as the label within the run. */
  frames: number;
  model: string;
  source: string;
  /** Which snapshot files exist (annotated and raw best frame). */
  snapshots: { annotated: boolean; raw: boolean };
  /** The clip (annotated MJPEG in AVI, from events.preSeconds before to events.postSeconds after), once written. */
  clip?: { frames: number; fps: number; seconds: number; width: number; height: number };
  /** The daemon stopped (or crashed) while the event was open; `end` is the last frame known. */
  interrupted?: boolean;
}

export type EventPhase = 'start' | 'end';

/** What socket.io `event` messages, MQTT event topics and webhooks carry. */
export interface EventMessage {
  phase: EventPhase;
  event: EventRecord;
}

export const EVENT_ID = /^ev-[0-9a-z]{1,12}-[0-9a-f]{6}$/;

/** Parses events.labels: empty means every label except uncertain. */
export function parseLabelList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
