import * as path from 'node:path';
import express, { type ErrorRequestHandler, type Express } from 'express';
import helmet from 'helmet';
import { isEdgesightError } from '../util/errors';
import type { Logger } from '../util/logger';
import { apiRoutes, type ApiDeps } from './api-routes';
import type { Authenticator } from './auth';
import { authRoutes, requireAuth } from './auth-routes';
import { eventRoutes } from './event-routes';
import type { DaemonMetrics } from './metrics';
import { originAllowed } from './origin';
import { pictureRoutes } from './picture-routes';
import type { ViewerSeats } from './viewer-seats';

export interface AppDeps extends ApiDeps {
  auth: Authenticator;
  metrics: DaemonMetrics;
  publicDir: string;
  allowedOrigins: readonly string[];
  /** server.maxViewers, shared with the live channel. */
  seats: ViewerSeats;
  log: Logger;
}

/** The express app: security headers, /healthz, sign-in, then everything behind the auth gate. */
export function createHttpApp(deps: AppDeps): Express {
  const { auth, daemon, hub, metrics, publicDir, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'blob:', 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      // Served over plain HTTP on a LAN: HSTS and upgrade-insecure-requests would break it.
      strictTransportSecurity: false,
      // no-referrer would make browsers send `Origin: null` on our own form posts, which the
      // origin check below must refuse; same-origin keeps addresses private all the same.
      referrerPolicy: { policy: 'same-origin' },
    }),
  );

  // Says only up or down, so it needs no secret (systemd, Docker, uptime checkers).
  app.get('/healthz', (_req, res) => {
    const up = daemon.framesFlowing();
    res.status(up ? 200 : 503).set('Cache-Control', 'no-store').json({ status: up ? 'up' : 'down' });
  });

  // A page elsewhere must not change settings or sign in with the visitor's cookie.
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || originAllowed(req, deps.allowedOrigins)) return next();
    res.status(403).json({ error: `origin ${req.headers.origin} is not allowed (server.allowedOrigins)` });
  });

  app.use(authRoutes(auth, publicDir));
  app.use(requireAuth(auth));

  app.use('/api', eventRoutes(daemon));
  app.use('/api', apiRoutes(deps));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.text());
  });
  app.use(pictureRoutes(daemon, hub, deps.seats));
  app.get('/vendor/socket.io.esm.min.js', (_req, res) => res.sendFile(socketIoClientBundle()));
  // Private pages: browsers must not keep them in shared caches; revalidate so an update shows.
  app.use(express.static(publicDir, { index: 'index.html', dotfiles: 'deny', etag: false, cacheControl: false, setHeaders: (res) => res.setHeader('Cache-Control', 'private, no-cache') }));
  app.use((req, res) => res.status(404).json({ error: `not found: ${req.method} ${req.path}` }));

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    // body-parser marks its errors with a status: 413 too large, 400 malformed, 415 charset.
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : isEdgesightError(err) ? 400 : 500;
    if (status >= 500) log.error({ err: err?.message, path: req.path }, 'request failed');
    else log.debug({ err: err?.message, path: req.path, status }, 'request refused');
    if (res.headersSent) return void res.end();
    const message = err?.type === 'entity.too.large' ? `request body too large (limit ${err.limit} bytes)` : status === 400 && err?.type === 'entity.parse.failed' ? `malformed JSON: ${err.message}` : status >= 500 ? 'internal error' : String(err?.message ?? err);
    res.status(status).json({ error: message });
  };
  app.use(onError);
  return app;
}

/** The socket.io browser client's ES module bundle, from the installed socket.io-client. */
function socketIoClientBundle(): string {
  const entry = require.resolve('socket.io-client');
  const root = entry.slice(0, entry.lastIndexOf(`${path.sep}socket.io-client${path.sep}`) + '/socket.io-client'.length);
  return path.join(root, 'dist', 'socket.io.esm.min.js');
}
