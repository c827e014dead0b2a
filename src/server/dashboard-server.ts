import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { projectRoot } from '../config/load';
import { ConfigError } from '../util/errors';
import type { Logger } from '../util/logger';
import type { Authenticator } from './auth';
import type { DaemonView } from './daemon-view';
import { createHttpApp } from './http-app';
import { LiveChannel } from './live-channel';
import { DaemonMetrics } from './metrics';
import { PredictionHistory } from './prediction-history';
import { TemperatureReader } from './status';
import { ViewerHub } from './viewer-hub';
import { ViewerSeats } from './viewer-seats';
import { toRecord } from './wire';

export interface DashboardOptions {
  host: string;
  port: number;
  auth: Authenticator;
  allowedOrigins: string[];
  historySize: number;
  maxViewers: number;
  /** Largest model upload accepted (POST /api/model). */
  maxUploadBytes: number;
  log: Logger;
  publicDir?: string;
  /** Where the CPU's thermal zones are read (tests give a folder of their own). */
  thermalRoot?: string;
}

export const defaultPublicDir = path.join(projectRoot, 'src', 'server', 'public');

/**
 * The dashboard, live channel, MJPEG, REST and metrics on one port. Built over a DaemonView;
 * start() listens, stop() closes clients and the port. Constructors do no I/O.
 */
export class DashboardServer {
  readonly hub: ViewerHub;
  readonly history: PredictionHistory;
  private httpServer: http.Server | undefined;
  private live: LiveChannel | undefined;
  private metrics: DaemonMetrics | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly daemon: DaemonView, private readonly options: DashboardOptions) {
    this.hub = new ViewerHub(daemon.feed);
    this.history = new PredictionHistory(options.historySize);
  }

  async start(): Promise<{ port: number; urls: string[] }> {
    const { daemon, options, hub, history } = this;
    const log = options.log;
    // One record per classified frame, shared by the history and the predictions channel.
    this.unsubscribe = daemon.feed.events.on('result', (result) => {
      const record = toRecord(result);
      history.push(record);
      this.live?.sendPrediction(record);
    });
    const temperature = new TemperatureReader(undefined, options.thermalRoot);
    // Uploads left half-received by a crash are never picked up: start with an empty staging area.
    fs.rmSync(daemon.uploadRoot, { recursive: true, force: true });
    this.metrics = new DaemonMetrics(daemon, hub, options.auth, temperature);
    const seats = new ViewerSeats(options.maxViewers);
    let live: LiveChannel | undefined;
    const app = createHttpApp({
      daemon,
      hub,
      history,
      temperature,
      onSettings: (settings) => live?.announceSettings(settings),
      auth: options.auth,
      metrics: this.metrics,
      publicDir: options.publicDir ?? defaultPublicDir,
      allowedOrigins: options.allowedOrigins,
      seats,
      maxUploadBytes: options.maxUploadBytes,
      addressOf: (req) => options.auth.addresses.of(req),
      log,
    });
    // The app must be the server's request handler before socket.io attaches: socket.io then
    // takes /socket.io/ requests away from it (a handler added later would answer them too).
    const server = http.createServer(app);
    // Slow or idle clients cannot hold sockets open forever (MJPEG streams set no timeout).
    server.headersTimeout = 15_000;
    server.requestTimeout = 30_000;
    this.httpServer = server;
    live = new LiveChannel(server, { daemon, hub, auth: options.auth, temperature, allowedOrigins: options.allowedOrigins, seats, log });
    this.live = live;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new ConfigError(`server.port: ${options.port} on ${options.host} is already in use (another edgesight running?); choose another with --port`));
        else if (err.code === 'EADDRNOTAVAIL') reject(new ConfigError(`server.host: ${options.host} is not an address of this machine`));
        // A host name is looked up before listening; one that does not resolve is a user mistake too.
        else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') reject(new ConfigError(`server.host: ${options.host} does not resolve to an address (${err.code})`));
        else if (err.code === 'EACCES') reject(new ConfigError(`server.port: ${options.port} needs privileges; use a port above 1023`));
        else reject(err);
      });
      server.listen(options.port, options.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return { port, urls: dashboardUrls(options.host, port) };
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.hub.close();
    this.metrics?.close();
    const server = this.httpServer;
    this.httpServer = undefined;
    // MJPEG responses never end on their own: cut every connection, then close the port
    // (socket.io's close() also closes the HTTP server and waits for it).
    server?.closeAllConnections();
    if (this.live) await this.live.close();
    else if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Where to point a browser: each LAN address when listening on all of them. */
export function dashboardUrls(host: string, port: number): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [`http://${host.includes(':') ? `[${host}]` : host}:${port}/`];
  const urls: string[] = [];
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (!a.internal && a.family === 'IPv4') urls.push(`http://${a.address}:${port}/`);
  }
  urls.push(`http://localhost:${port}/`);
  return urls;
}
