import * as fs from 'node:fs';
import * as path from 'node:path';
import { cv, matFromPixels, type Mat } from '../vision/cv';
import type { ClassMetrics } from './metrics';
import type { EpochRecord } from './trainer';

export interface Misclassified {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
  /** The contract's colour order, so the picture shows true colours. */
  colorOrder: 'rgb' | 'bgr';
  file: string;
  truth: string;
  predicted: string;
  confidence: number;
}

export interface TrainingReport {
  title: string;
  summary: Array<[string, string]>;
  counts: Array<{ label: string; train: number; validation: number }>;
  history: EpochRecord[];
  bestEpoch: number;
  metrics: ClassMetrics;
  misclassified: Misclassified[];
}

const INK = new cv.Vec3(40, 40, 40);
const TRAIN_COLOUR = new cv.Vec3(180, 119, 31); // BGR: the blue of the HTML curves
const VALIDATION_COLOUR = new cv.Vec3(14, 127, 255); // orange

/**
 * Writes the training report beside the package: report.html (one self-contained page: curves
 * as inline SVG, the confusion matrix and misclassified grid as embedded PNGs) and the same
 * pictures as curves.png, confusion.png and misclassified.png. Returns the files written.
 */
export function writeReport(dir: string, report: TrainingReport): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const pngs: Record<string, Buffer> = {
    'curves.png': encodePng(drawCurves(report.history)),
    'confusion.png': encodePng(drawConfusion(report.metrics)),
    'misclassified.png': encodePng(drawMisclassified(report.misclassified)),
  };
  const written: string[] = [];
  for (const [name, data] of Object.entries(pngs)) {
    fs.writeFileSync(path.join(dir, name), data);
    written.push(path.join(dir, name));
  }
  const html = path.join(dir, 'report.html');
  fs.writeFileSync(html, renderHtml(report, pngs));
  written.unshift(html);
  return written;
}

function encodePng(mat: Mat): Buffer {
  const png = cv.imencode('.png', mat);
  mat.release();
  return png;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function renderHtml(r: TrainingReport, pngs: Record<string, Buffer>): string {
  const img = (name: string, alt: string) => `<img src="data:image/png;base64,${pngs[name].toString('base64')}" alt="${esc(alt)}">`;
  const rows = (cells: string[][]) => cells.map((c) => `<tr>${c.map((x) => `<td>${x}</td>`).join('')}</tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(r.title)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:1rem}svg{background:#fff;border:1px solid #ddd}img{max-width:100%;border:1px solid #ddd}
.facts td{text-align:left}.legend span{display:inline-block;width:1.2em;height:.3em;vertical-align:middle;margin:0 .3em 0 1em}
</style></head><body>
<h1>${esc(r.title)}</h1>
<table class="facts">${rows(r.summary.map(([k, v]) => [esc(k), esc(v)]))}</table>
<h2>Dataset</h2>
<table><tr><th>class</th><th>train</th><th>validation</th></tr>${rows(r.counts.map((c) => [esc(c.label), String(c.train), String(c.validation)]))}</table>
<h2>Learning curves</h2>
<p class="legend"><span style="background:#1f77b4"></span>training<span style="background:#ff7f0e"></span>validation &nbsp; (best validation loss: epoch ${r.bestEpoch}; a validation curve that rises while training keeps falling is overfitting)</p>
<div class="charts">${svgChart('loss', r.history.map((h) => h.loss), r.history.map((h) => h.valLoss), r.bestEpoch)}${svgChart('accuracy', r.history.map((h) => h.accuracy), r.history.map((h) => h.valAccuracy), r.bestEpoch)}</div>
<h2>Validation: ${pct(r.metrics.accuracy)} of ${r.metrics.total} images</h2>
<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${rows(r.metrics.perClass.map((c) => [esc(c.label), pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)]))}</table>
<h2>Confusion matrix</h2>
<p>Rows: true class; columns: predicted. Shade: share of the row.</p>
${img('confusion.png', 'confusion matrix')}
<h2>Misclassified validation images (${r.misclassified.length})</h2>
${r.misclassified.length ? `<p>Each with its true label and the prediction (confidence).</p>${img('misclassified.png', 'misclassified validation images')}
<table><tr><th>file</th><th>true</th><th>predicted</th></tr>${rows(r.misclassified.map((m) => [esc(m.file), esc(m.truth), `${esc(m.predicted)} (${pct(m.confidence)})`]))}</table>` : '<p>None.</p>'}
</body></html>
`;
}

function svgChart(name: string, train: number[], validation: number[], bestEpoch: number): string {
  const w = 520;
  const h = 300;
  const m = { l: 50, r: 15, t: 25, b: 35 };
  const all = [...train, ...validation].filter(Number.isFinite);
  const lo = name === 'accuracy' ? Math.min(...all, 1) : 0;
  const hi = Math.max(...all, lo + 1e-6);
  const n = Math.max(2, train.length);
  const x = (i: number) => m.l + ((w - m.l - m.r) * i) / (n - 1);
  const y = (v: number) => h - m.b - ((h - m.t - m.b) * (v - lo)) / (hi - lo);
  const line = (vals: number[], colour: string) => `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${vals.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  return `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${name}">
<text x="${m.l}" y="16" font-size="13">${name} per epoch</text>
${ticks.map((t) => `<line x1="${m.l}" x2="${w - m.r}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${y(t) + 4}" font-size="11" text-anchor="end">${t.toFixed(name === 'accuracy' ? 2 : 3)}</text>`).join('')}
${train.map((_, i) => `<text x="${x(i)}" y="${h - m.b + 15}" font-size="10" text-anchor="middle">${i + 1}</text>`).join('')}
${bestEpoch ? `<line x1="${x(bestEpoch - 1)}" x2="${x(bestEpoch - 1)}" y1="${m.t}" y2="${h - m.b}" stroke="#2ca02c" stroke-dasharray="4 3"/>` : ''}
${line(train, '#1f77b4')}${line(validation, '#ff7f0e')}
<text x="${w / 2}" y="${h - 4}" font-size="11" text-anchor="middle">epoch</text></svg>`;
}

function drawCurves(history: EpochRecord[]): Mat {
  const panel = (name: 'loss' | 'accuracy', train: number[], validation: number[]): Mat => {
    const w = 520;
    const h = 300;
    const img = new cv.Mat(h, w, cv.CV_8UC3, [255, 255, 255]);
    const all = [...train, ...validation];
    const lo = name === 'accuracy' ? Math.min(...all, 1) : 0;
    const hi = Math.max(...all, lo + 1e-6);
    const n = Math.max(2, train.length);
    const px = (i: number) => Math.round(50 + ((w - 65) * i) / (n - 1));
    const py = (v: number) => Math.round(h - 35 - ((h - 60) * (v - lo)) / (hi - lo));
    for (const f of [0, 0.5, 1]) {
      const v = lo + f * (hi - lo);
      img.drawLine(new cv.Point2(50, py(v)), new cv.Point2(w - 15, py(v)), new cv.Vec3(230, 230, 230), 1);
      img.putText(v.toFixed(name === 'accuracy' ? 2 : 3), new cv.Point2(2, py(v) + 4), cv.FONT_HERSHEY_SIMPLEX, 0.35, INK, 1);
    }
    img.putText(`${name} per epoch (blue: training, orange: validation)`, new cv.Point2(50, 18), cv.FONT_HERSHEY_SIMPLEX, 0.45, INK, 1);
    for (const [vals, colour] of [[train, TRAIN_COLOUR], [validation, VALIDATION_COLOUR]] as const) {
      for (let i = 1; i < vals.length; i++) img.drawLine(new cv.Point2(px(i - 1), py(vals[i - 1])), new cv.Point2(px(i), py(vals[i])), colour, 2, cv.LINE_AA);
      if (vals.length === 1) img.drawCircle(new cv.Point2(px(0), py(vals[0])), 3, colour, -1);
    }
    img.putText(`epochs 1-${train.length}`, new cv.Point2(w / 2 - 30, h - 10), cv.FONT_HERSHEY_SIMPLEX, 0.4, INK, 1);
    return img;
  };
  const left = panel('loss', history.map((x) => x.loss), history.map((x) => x.valLoss));
  const right = panel('accuracy', history.map((x) => x.accuracy), history.map((x) => x.valAccuracy));
  const out = hconcat(left, right);
  left.release();
  right.release();
  return out;
}

function hconcat(a: Mat, b: Mat): Mat {
  const out = new cv.Mat(Math.max(a.rows, b.rows), a.cols + b.cols, cv.CV_8UC3, [255, 255, 255]);
  paste(a, out, 0, 0);
  paste(b, out, a.cols, 0);
  return out;
}

/** Copies `picture` into `canvas` with its top-left corner at (x, y). */
function paste(picture: Mat, canvas: Mat, x: number, y: number): void {
  const region = canvas.getRegion(new cv.Rect(x, y, picture.cols, picture.rows));
  picture.copyTo(region);
  region.release();
}

function drawConfusion(m: ClassMetrics): Mat {
  const k = m.perClass.length;
  const cell = Math.max(36, Math.min(90, Math.floor(640 / k)));
  const labelW = 110;
  const top = 40;
  const img = new cv.Mat(top + labelW + k * cell, labelW + k * cell + 10, cv.CV_8UC3, [255, 255, 255]);
  const font = Math.min(0.5, cell / 90);
  m.confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, j) => {
      const share = count / total;
      // White to dark blue by the share of the true class predicted as this one.
      const colour = new cv.Vec3(255 - 75 * share, 255 - 180 * share, 255 - 225 * share);
      const x = labelW + j * cell;
      const y = top + i * cell;
      img.drawRectangle(new cv.Rect(x, y, cell, cell), colour, -1);
      img.drawRectangle(new cv.Rect(x, y, cell, cell), new cv.Vec3(220, 220, 220), 1);
      img.putText(String(count), new cv.Point2(x + 4, y + Math.round(cell / 2) + 4), cv.FONT_HERSHEY_SIMPLEX, font, share > 0.5 ? new cv.Vec3(255, 255, 255) : INK, 1);
    });
    img.putText(m.perClass[i].label.slice(0, 14), new cv.Point2(4, top + i * cell + Math.round(cell / 2) + 4), cv.FONT_HERSHEY_SIMPLEX, 0.4, INK, 1);
  });
  m.perClass.forEach((c, j) => img.putText(c.label.slice(0, 14), new cv.Point2(labelW + j * cell + 2, top + k * cell + 16 + (j % 2) * 14), cv.FONT_HERSHEY_SIMPLEX, 0.4, INK, 1));
  img.putText('rows: true class, columns: predicted', new cv.Point2(4, 20), cv.FONT_HERSHEY_SIMPLEX, 0.45, INK, 1);
  return img;
}

function drawMisclassified(items: Misclassified[]): Mat {
  const tile = 112;
  const captionH = 34;
  const cols = Math.max(1, Math.min(8, items.length));
  const rows = Math.max(1, Math.ceil(items.length / cols));
  const img = new cv.Mat(rows * (tile + captionH), cols * tile, cv.CV_8UC3, [255, 255, 255]);
  if (!items.length) {
    img.putText('none', new cv.Point2(10, 40), cv.FONT_HERSHEY_SIMPLEX, 0.6, INK, 1);
    return img;
  }
  items.forEach((item, i) => {
    const x = (i % cols) * tile;
    const y = Math.floor(i / cols) * (tile + captionH);
    let picture = matFromPixels(item.pixels, item.height, item.width, item.channels);
    const colour = item.channels === 1 ? picture.cvtColor(cv.COLOR_GRAY2BGR) : item.colorOrder === 'rgb' ? picture.cvtColor(cv.COLOR_RGB2BGR) : picture.copy();
    picture.release();
    picture = colour.resize(tile - 8, tile - 8, 0, 0, item.width < tile / 2 ? cv.INTER_NEAREST : cv.INTER_AREA);
    colour.release();
    paste(picture, img, x + 4, y + 4);
    picture.release();
    img.putText(`true ${item.truth}`.slice(0, 16), new cv.Point2(x + 4, y + tile + 12), cv.FONT_HERSHEY_SIMPLEX, 0.38, new cv.Vec3(0, 120, 0), 1);
    img.putText(`pred ${item.predicted} ${Math.round(item.confidence * 100)}%`.slice(0, 18), new cv.Point2(x + 4, y + tile + 27), cv.FONT_HERSHEY_SIMPLEX, 0.38, new cv.Vec3(0, 0, 190), 1);
  });
  return img;
}
