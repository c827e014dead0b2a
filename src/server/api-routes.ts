import * as fsp from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import express, { type Router } from 'express';
import { ModelPackageError } from '../util/errors';
import { receivePackage } from './model-upload';
import { datasetRoutes } from './dataset-routes';
import type { Logger } from '../util/logger';
import { parseSettingsPatch, type RuntimeSettings } from '../pipeline/runtime-settings';
import type { DaemonView, ModelInfo } from './daemon-view';
import type { PredictionHistory } from './prediction-history';
import { buildStatus, type TemperatureReader } from './status';
import type { ViewerHub } from './viewer-hub';

export interface ApiDeps {
  daemon: DaemonView;
  hub: ViewerHub;
  history: PredictionHistory;
  temperature: TemperatureReader;
  /** Called after settings changed, to tell live clients. */
  onSettings(settings: RuntimeSettings): void;
  maxUploadBytes: number;
  /** Who sent a request, for the log (behind trusted proxies, the forwarded client). */
  addressOf(req: IncomingMessage): string;
  log: Logger;
}

/** The REST API under /api (behind the auth gate). */
export function apiRoutes({ daemon, hub, history, temperature, onSettings, maxUploadBytes, addressOf, log }: ApiDeps): Router {
  const router = express.Router();
  router.use(express.json({ limit: '16kb', strict: true }));

  router.get('/status', async (_req, res) => {
    res.json(buildStatus(daemon, hub, await temperature.fresh()));
  });

  router.get('/predictions/latest', (_req, res) => {
    const latest = history.latest();
    if (!latest) res.status(404).json({ error: 'no frame has been classified yet' });
    else res.json(latest);
  });

  router.get('/predictions', (req, res) => {
    const since = integerParam(req.query.since, 'since', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = integerParam(req.query.limit, 'limit', 100, 1, history.capacity);
    if (typeof since === 'string') return void res.status(400).json({ error: since });
    if (typeof limit === 'string') return void res.status(400).json({ error: limit });
    const items = history.since(since, limit);
    res.json({ items, latestSeq: history.latest()?.seq ?? 0, capacity: history.capacity });
  });

  router.get('/model', (_req, res) => {
    res.json(daemon.model());
  });

  // A new model package: checked, self-tested and swapped in without dropping the stream; on any
  // failure the running model keeps serving and the answer says why (422, naming the file).
  router.post('/model', async (req, res) => {
    const dir = await receivePackage(req, daemon.uploadRoot, maxUploadBytes);
    let outcome: { model: ModelInfo } | { refused: string };
    try {
      outcome = { model: await daemon.installModel(dir, `upload from ${addressOf(req)}`) };
    } catch (err) {
      if (!(err instanceof ModelPackageError)) throw err;
      outcome = { refused: err.message.replace(dir, 'upload') };
    } finally {
      // Gone before the answer, and off the main thread: unlinking a large upload took tens of ms on a card.
      await fsp.rm(dir, { recursive: true, force: true });
    }
    if ('model' in outcome) res.json(outcome);
    else res.status(422).json({ error: outcome.refused });
  });

  router.post('/model/rollback', async (_req, res) => {
    try {
      res.json({ model: await daemon.rollbackModel() });
    } catch (err) {
      if (!(err instanceof ModelPackageError)) throw err;
      res.status(409).json({ error: err.message });
    }
  });

  router.get('/settings', (_req, res) => {
    res.json(daemon.settings());
  });

  router.patch('/settings', (req, res) => {
    // A SettingsError goes to the error handler as a 400 naming the key and rule.
    const patch = parseSettingsPatch(req.body);
    const settings = daemon.applySettings(patch);
    onSettings(settings);
    res.json(settings);
  });

  router.use(datasetRoutes(daemon, log.child({ component: 'dataset' }), addressOf));

  router.use((req, res) => {
    res.status(404).json({ error: `no API route ${req.method} ${req.path}` });
  });
  return router;
}

/** The parameter as an integer in [min, max], its default when absent, or an error message. */
function integerParam(value: unknown, name: string, fallback: number, min: number, max: number): number | string {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) return `query parameter ${name}=${JSON.stringify(value)} must be an integer from ${min} to ${max}`;
  return n;
}
