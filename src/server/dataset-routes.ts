import type { IncomingMessage } from 'node:http';
import express, { type ErrorRequestHandler, type Router } from 'express';
import { DatasetRequestError } from '../util/errors';
import type { Logger } from '../util/logger';
import type { DaemonView } from './daemon-view';

/**
 * The dataset API under /api (behind the auth gate like the rest):
 *   GET    /dataset                          per-label counts, disk use, cap, the capture running
 *   POST   /dataset/samples                  {label, count?, everySeconds?}: 201 with the samples of a
 *                                            burst once saved; 202 for a timed capture (started)
 *   POST   /dataset/capture/stop             ends the capture running
 *   GET    /dataset/samples?label=&page=     one page of a label's samples, newest first
 *   GET    /dataset/samples/:label/:name     the JPEG;  .../thumb  a small one
 *   PATCH  /dataset/samples/:label/:name     {label}: relabel (moves the file)
 *   DELETE /dataset/samples/:label/:name
 *   GET    /dataset/files                    every sample with its size (for `dataset pull`)
 *   GET    /dataset/index.jsonl              the index
 *   GET    /dataset.zip                      everything, streamed as it is read
 * _unlabelled is left out of the listing and the zip unless ?unlabelled=1.
 * Labels and sample names from the client are checked by the dataset, which alone builds paths.
 */
export function datasetRoutes(daemon: DaemonView, log: Logger, addressOf: (req: IncomingMessage) => string): Router {
  const router = express.Router();
  const dataset = daemon.dataset;
  const noCache = { 'Cache-Control': 'private, no-cache' };

  router.get('/dataset', (_req, res) => {
    res.json(dataset.summary());
  });

  router.post('/dataset/samples', async (req, res) => {
    const { job, samples } = await dataset.capture(req.body, `HTTP from ${addressOf(req)}`);
    if (job.state === 'full') return void res.status(507).json({ error: `capture stopped: ${job.message}`, job, samples });
    if (job.state === 'failed') return void res.status(503).json({ error: `capture failed: ${job.message}`, job, samples });
    res.status(job.state === 'running' ? 202 : 201).json({ job, samples });
  });

  router.post('/dataset/capture/stop', (_req, res) => {
    res.json({ job: dataset.stopCapture() ?? null });
  });

  router.get('/dataset/samples', (req, res) => {
    res.json(dataset.list(req.query.label, req.query.page, req.query.pageSize));
  });

  router.get('/dataset/files', (req, res) => {
    res.json(dataset.files(req.query.unlabelled === '1'));
  });

  router.get('/dataset/index.jsonl', (_req, res) => {
    res.set(noCache).type('application/x-ndjson').sendFile(dataset.indexPath(), (err) => {
      if (err && !res.headersSent) res.status(404).json({ error: 'the dataset has no index yet' });
    });
  });

  router.get('/dataset/samples/:label/:name', (req, res) => {
    const file = dataset.samplePath(req.params.label, req.params.name);
    res.set(noCache).sendFile(file, (err) => {
      if (err && !res.headersSent) res.status(404).json({ error: `sample ${req.params.label}/${req.params.name} is gone` });
    });
  });

  router.get('/dataset/samples/:label/:name/thumb', async (req, res) => {
    const jpeg = await dataset.thumbnail(req.params.label, req.params.name);
    res.set(noCache).type('image/jpeg').send(jpeg);
  });

  router.patch('/dataset/samples/:label/:name', async (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null || !('label' in body)) throw new DatasetRequestError(400, 'relabel needs a JSON body {"label": "new label"}');
    res.json({ sample: await dataset.move(req.params.label, req.params.name, body.label) });
  });

  router.delete('/dataset/samples/:label/:name', async (req, res) => {
    await dataset.remove(req.params.label, req.params.name);
    res.status(204).end();
  });

  router.get('/dataset.zip', async (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Disposition': 'attachment; filename="edgesight-dataset.zip"', 'Cache-Control': 'no-store' });
    try {
      await dataset.zip(res, req.query.unlabelled === '1');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'dataset zip failed');
      res.destroy();
    }
  });

  const onError: ErrorRequestHandler = (err, _req, res, next) => {
    if (!(err instanceof DatasetRequestError)) return next(err);
    if (err.status === 507) log.warn(err.message);
    if (res.headersSent) return void res.end();
    res.status(err.status).json({ error: err.message });
  };
  router.use(onError);
  return router;
}
