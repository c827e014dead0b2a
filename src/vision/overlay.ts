import { cv, type Mat } from './cv';

/** A label and its confidence, as drawn. */
interface DrawnLabel {
  label: string;
  confidence: number;
}

/** What the overlay draws of a decision: the pipeline's Decision is one (vision does not import the pipeline). */
export interface DrawnDecision extends DrawnLabel {
  uncertain: boolean;
  topk: readonly DrawnLabel[];
  /** The frame's own top label, named when the decision is "uncertain". */
  frameTop: DrawnLabel;
}

export interface OverlayInfo {
  decision: DrawnDecision;
  fps: number;
  inferMs: number;
}

const WHITE = () => new cv.Vec3(255, 255, 255);
const GREEN = () => new cv.Vec3(90, 220, 90);
const AMBER = () => new cv.Vec3(40, 180, 255);
const BAR_BG = () => new cv.Vec3(70, 70, 70);

/**
 * Draws the decision onto the frame in place: the label and confidence large at the top left
 * (green when confident, amber when "uncertain"), a bar per top-k label, and speed at the
 * bottom. Sizes scale with the frame height, so text is legible at 640x480 and 1280x720.
 * Panels darken the picture behind them instead of hiding it.
 */
export function drawOverlay(frame: Mat, info: OverlayInfo): void {
  const s = frame.rows / 480;
  const font = cv.FONT_HERSHEY_SIMPLEX;
  const pad = Math.round(10 * s);
  const lineH = Math.round(24 * s);
  const { decision } = info;
  const rows = decision.topk.length;
  const panelW = Math.min(frame.cols - 2 * pad, Math.round(300 * s));
  const panelH = Math.round(56 * s) + rows * lineH + pad;
  darken(frame, pad, pad, panelW, panelH);

  const title = decision.uncertain ? `uncertain (${decision.frameTop.label}?)` : decision.label;
  const pct = `${Math.round(decision.confidence * 100)}%`;
  const colour = decision.uncertain ? AMBER() : GREEN();
  const thick = Math.max(1, Math.round(2 * s));
  frame.putText(`${title}  ${pct}`, new cv.Point2(2 * pad, pad + Math.round(38 * s)), font, 1.1 * s, colour, thick, cv.LINE_AA);

  const barX = 2 * pad + Math.round(70 * s);
  const barW = panelW - (barX - pad) - Math.round(60 * s);
  decision.topk.forEach((r, i) => {
    const y = pad + Math.round(56 * s) + i * lineH;
    frame.putText(truncate(r.label, 6), new cv.Point2(2 * pad, y + Math.round(16 * s)), font, 0.5 * s, WHITE(), Math.max(1, Math.round(s)), cv.LINE_AA);
    const h = Math.round(14 * s);
    frame.drawRectangle(new cv.Point2(barX, y + 3), new cv.Point2(barX + barW, y + 3 + h), BAR_BG(), -1);
    const filled = Math.max(1, Math.round(barW * Math.min(1, Math.max(0, r.confidence))));
    frame.drawRectangle(new cv.Point2(barX, y + 3), new cv.Point2(barX + filled, y + 3 + h), i === 0 && !decision.uncertain ? GREEN() : WHITE(), -1);
    frame.putText(`${Math.round(r.confidence * 100)}%`, new cv.Point2(barX + barW + Math.round(6 * s), y + Math.round(16 * s)), font, 0.5 * s, WHITE(), Math.max(1, Math.round(s)), cv.LINE_AA);
  });

  const speed = `${info.fps.toFixed(1)} fps  infer ${info.inferMs.toFixed(1)} ms`;
  const speedH = Math.round(30 * s);
  const speedW = Math.round(250 * s);
  darken(frame, pad, frame.rows - pad - speedH, Math.min(speedW, frame.cols - 2 * pad), speedH);
  frame.putText(speed, new cv.Point2(2 * pad, frame.rows - pad - Math.round(9 * s)), font, 0.6 * s, WHITE(), Math.max(1, Math.round(s)), cv.LINE_AA);
}

/** Dims a rectangle of the frame to 35% brightness (a view into the frame, written back in place). */
function darken(frame: Mat, x: number, y: number, w: number, h: number): void {
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const width = Math.min(frame.cols - x0, w);
  const height = Math.min(frame.rows - y0, h);
  if (width <= 0 || height <= 0) return;
  const region = frame.getRegion(new cv.Rect(x0, y0, width, height));
  const dimmed = region.convertTo(region.type, 0.35);
  dimmed.copyTo(region);
  dimmed.release();
}

/** Hershey fonts have no ellipsis glyph, so a long label ends in a plain '.'. */
function truncate(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '.' : text;
}
