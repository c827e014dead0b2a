import * as fs from 'node:fs';
import type { Config } from '../config/schema';
import { listCameras, type CameraDevice } from '../capture/cameras';
import { currentBackend, selectBackend } from '../model/backend';
import { selectEngine } from '../model/engine/select-engine';
import { fitsAtStart, MemoryBudget } from '../model/memory-budget';
import { loadModelPackage } from '../model/model-package';
import { resolveModelDir } from '../model/open-model';
import { PoolEngine } from '../model/pool/pool-engine';
import { planWorkers } from '../model/pool/pool-plan';
import { poolFor, serveOnPool } from '../model/pool/serve-on-pool';
import { silentLogger } from '../util/logger';
import { errorMessage } from '../util/errors';
import { readMemoryLimit, readUnitMemoryLimit } from '../util/memory-limit';
import { roundTo } from '../util/round';
import { cv } from '../vision/cv';

export interface DoctorReport {
  node: string;
  opencv: { ok: boolean; version?: string; videoBackends?: Record<string, boolean>; error?: string };
  tfjs: { ok: boolean; backend?: string; version?: string; passedOver?: string[]; error?: string };
  cameras: CameraDevice[];
  model: { ok: boolean; path?: string; name?: string; labels?: number; input?: string; engine?: string; workers?: WorkersReport; error?: string };
  memory: MemoryReport;
  source: string;
}

/** The memory limit the daemon runs under and what the configured model needs against it (estimates, docs/memory.md). */
export interface MemoryReport {
  limit?: { mb: number; file: string; whose: 'this process' | 'the running edgesight service' };
  model?: { weightMB: number; startPeakMB: number; swapOverRssMB: number };
}

/** The inference workers pipeline.workers gives the model, and what each holds once it is loaded. */
export interface WorkersReport {
  count: number;
  why: string;
  perWorker: Array<{ heapMB: number; externalMB: number; tensors: number }>;
}

/** What this machine offers edgesight: the report of `edgesight doctor`, also logged at start-up. */
export async function gatherReport(config: Config, options: { checkModel?: boolean } = {}): Promise<DoctorReport> {
  const report: DoctorReport = {
    node: process.version,
    opencv: { ok: false },
    tfjs: { ok: false },
    cameras: listCameras(),
    model: { ok: false },
    memory: { limit: applicableLimit() },
    source: config.source,
  };
  try {
    const v = cv.version;
    const info = cv.getBuildInformation();
    report.opencv = { ok: true, version: `${v.major}.${v.minor}.${v.revision}`, videoBackends: videoBackends(info) };
  } catch (err) {
    report.opencv = { ok: false, error: errorMessage(err) };
  }
  try {
    const choice = currentBackend() ?? (await selectBackend(config['model.backend']));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const version = require('@tensorflow/tfjs/package.json').version as string;
    report.tfjs = { ok: true, backend: choice.name, version, passedOver: choice.skipped };
  } catch (err) {
    report.tfjs = { ok: false, error: errorMessage(err) };
  }
  if (report.tfjs.ok && options.checkModel !== false) {
    try {
      const loaded = await loadModelPackage(resolveModelDir(config['model.path']));
      const p = loaded.metadata.preprocess;
      try {
        // What model.backend gives this model: OpenCV DNN only when it converts and passes the check.
        let selection = await selectEngine(loaded, { preference: config['model.backend'], threads: config['model.threads'] });
        // The workers pipeline.workers gives it, started and loaded for real so that their memory is measured, then ended.
        const pool = poolFor(config['pipeline.workers'], silentLogger());
        let workers: WorkersReport = { count: 1, why: planWorkers(config['pipeline.workers'], selection.engine.name, currentBackend()?.name, undefined).why, perWorker: [] };
        try {
          if (pool) {
            const served = await serveOnPool(loaded, selection, { pool, setting: config['pipeline.workers'], onFailure: 'in-process' });
            selection = served;
            workers = { count: served.plan.workers, why: served.plan.why, perWorker: [] };
          }
          if (pool && selection.engine instanceof PoolEngine) {
            workers.perWorker = (await pool.memory()).flatMap((w) => (w.memory ? [{ heapMB: mb(w.memory.heapUsed), externalMB: mb(w.memory.external), tensors: w.memory.tensors }] : []));
          }
        } finally {
          await pool?.stop();
        }
        const needs = new MemoryBudget(config['model.backend']).estimates(loaded.weightBytes);
        report.memory.model = { weightMB: mb(loaded.weightBytes), startPeakMB: mb(needs.startPeak), swapOverRssMB: mb(needs.swapOverRss) };
        report.model = { ok: true, path: loaded.dir, name: loaded.metadata.name, labels: loaded.metadata.labels.length, input: `${p.width}x${p.height}x${p.channels}`, engine: selection.summary, workers };
      } finally {
        loaded.model?.dispose();
      }
    } catch (err) {
      report.model = { ok: false, path: config['model.path'], error: errorMessage(err) };
    }
  }
  return report;
}

function mb(bytes: number): number {
  return roundTo(bytes / 1048576, 1);
}

/**
 * The limit that binds the daemon: its own when systemd runs this process (the start-up report),
 * else the running service's (doctor from a shell on the device), else this process's.
 */
function applicableLimit(): MemoryReport['limit'] {
  const own = readMemoryLimit();
  const service = process.env.INVOCATION_ID === undefined ? readUnitMemoryLimit('edgesight.service') : undefined;
  const limit = service ?? own;
  return limit && { mb: mb(limit.bytes), file: limit.file, whose: service ? 'the running edgesight service' : 'this process' };
}

function formatMemory(m: MemoryReport): string {
  const need = m.model ? `; this model's ${m.model.weightMB} MB of weights: about ${Math.round(m.model.startPeakMB)} MB at start-up, and a hot-swap to it about ${Math.round(m.model.swapOverRssMB)} MB over the daemon's memory of that moment` : '';
  if (!m.limit) return `memory   ok   no memory limit on this process or on a running edgesight service (the installed unit sets MemoryMax=1G)${need}`;
  const fits = !m.model || fitsAtStart(m.model.startPeakMB, m.limit.mb);
  const advice = fits ? '' : ': over the limit, the daemon will refuse it at start; raise it with `sudo systemctl edit edgesight` ([Service] MemoryMax=) or use a smaller model';
  return `memory   ${fits ? 'ok  ' : 'FAIL'} limit ${Math.round(m.limit.mb)} MB (${m.limit.whose}, ${m.limit.file})${need}${advice}`;
}

/** Reads the "Video I/O" section of OpenCV's build information: which capture backends were compiled in. */
function videoBackends(info: string): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const name of ['V4L/V4L2', 'GStreamer', 'FFMPEG']) {
    const m = new RegExp(`^\\s*${name.replace('/', '\\/')}:\\s*(\\S+)`, 'mi').exec(info);
    out[name] = !!m && !/^NO$/i.test(m[1]);
  }
  return out;
}

function formatWorkers(w: WorkersReport): string {
  if (w.count <= 1) return `1: inference on the main thread (${w.why})`;
  const each = w.perWorker.map((m, i) => `#${i} heap ${m.heapMB} MB, WASM and buffers ${m.externalMB} MB, ${m.tensors} tensors`).join('; ');
  return `${w.count} inference worker threads, each with its own TF.js WASM and model copy (${w.why}): ${each}`;
}

export function formatReport(r: DoctorReport): string {
  const mark = (ok: boolean) => (ok ? 'ok  ' : 'FAIL');
  const backends = r.opencv.videoBackends ? Object.entries(r.opencv.videoBackends).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ') : '';
  const lines = [
    `node     ok   ${r.node}`,
    `opencv   ${mark(r.opencv.ok)} ${r.opencv.ok ? `${r.opencv.version} (video: ${backends})` : r.opencv.error}`,
    `tfjs     ${mark(r.tfjs.ok)} ${r.tfjs.ok ? `${r.tfjs.version}, backend ${r.tfjs.backend}${r.tfjs.passedOver?.length ? ` (passed over: ${r.tfjs.passedOver.join('; ')})` : ''}` : r.tfjs.error}`,
    `cameras  ${r.cameras.length ? 'ok  ' : 'none'} ${r.cameras.length ? r.cameras.map((c) => (c.path === c.node ? c.path : `${c.path} -> ${c.node}`)).join(', ') : 'no /dev/video* or /dev/v4l/by-id devices (source auto will use the demo scene)'}`,
    r.model.ok || r.model.error ? `model    ${mark(r.model.ok)} ${r.model.ok ? `${r.model.name} at ${r.model.path} (${r.model.input}, ${r.model.labels} labels), engine ${r.model.engine}` : r.model.error}` : '',
    r.model.ok && r.model.workers ? `workers  ok   ${formatWorkers(r.model.workers)}` : '',
    formatMemory(r.memory),
    `source   ${r.source}`,
  ];
  if (fs.existsSync('/sys/firmware/devicetree/base/model')) {
    lines.unshift(`device   ${fs.readFileSync('/sys/firmware/devicetree/base/model', 'utf8').replace(/\0/g, '')}`);
  }
  return lines.filter(Boolean).join('\n');
}
