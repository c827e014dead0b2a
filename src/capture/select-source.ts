import * as fs from 'node:fs';
import type { Config } from '../config/schema';
import { SourceError, errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import { listCameras } from './cameras';
import { DemoSource } from './demo-source';
import type { FrameSource, SourceKind } from './frame-source';
import { ImagesSource, isImageFile } from './images-source';
import { OpenCvSource } from './opencv-source';
import { ResilientSource } from './resilient-source';
import { ProcessFrameSource } from './worker/process-source';
import { WebcamSource } from './webcam-source';

const KINDS: ReadonlyArray<SourceKind | 'auto'> = ['auto', 'camera', 'gstreamer', 'url', 'file', 'images', 'webcam', 'demo'];

export interface SourceSpec {
  kind: SourceKind | 'auto';
  /** Device, pipeline, URL, file or folder; undefined means "take it from the config section". */
  target?: string;
}

/**
 * Reads `source` (config or --source): a kind name, or a bare device path, camera index, URL,
 * GStreamer pipeline, video file or image folder whose kind is inferred.
 */
export function parseSourceSpec(text: string): SourceSpec {
  const s = text.trim();
  if ((KINDS as readonly string[]).includes(s)) return { kind: s as SourceSpec['kind'] };
  if (/^\d+$/.test(s) || s.startsWith('/dev/')) return { kind: 'camera', target: s };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return { kind: 'url', target: s };
  if (s.includes('!') && /appsink/.test(s)) return { kind: 'gstreamer', target: s };
  if (fs.existsSync(s)) {
    if (fs.statSync(s).isDirectory()) return { kind: 'images', target: s };
    if (isImageFile(s)) throw new SourceError(`source '${s}' is a single image: give its folder (source images) or use 'edgesight predict ${s}'`);
    return { kind: 'file', target: s };
  }
  throw new SourceError(`source '${s}' is not a kind (${KINDS.join(', ')}), a device, a URL, or an existing file or folder`);
}

/** Builds the source the config asks for and opens it; `auto` tries each camera, then the demo. */
export async function openSource(config: Config, log: Logger): Promise<FrameSource> {
  return (await openWithSpec(config, log)).source;
}

/**
 * Opens the configured source for the daemon, wrapped so that read errors, stalls and bad
 * frames reopen it with backoff (see ResilientSource). A reopen builds the same source again:
 * for `auto`, the camera (or demo) that was chosen at start.
 */
export async function openResilientSource(config: Config, log: Logger): Promise<ResilientSource> {
  const options = { stallMs: config['capture.stallSeconds'] * 1000 };
  const first = parseSourceSpec(config.source);
  if (config['capture.retryAtStart'] && LIVE_KINDS.includes(first.kind)) {
    // A live source may take up to 30 s to open or fail (an unreachable IP camera): start-up goes
    // on after a short wait, and the open still running becomes the resilient source's first attempt.
    const source = buildSource(first, config, log);
    const opening = source.open().then(() => source);
    const openedInTime = await Promise.race([opening.then(() => true), sleep(OPEN_WAIT_AT_START_MS).then(() => false)]).catch(() => false);
    if (openedInTime) return new ResilientSource(source, () => buildSource(first, config, log), options);
    const error = await Promise.race([opening.then(() => 'opened', errorMessage), sleep(0).then(() => `still opening after ${OPEN_WAIT_AT_START_MS / 1000} s`)]);
    log.warn({ source: source.description, err: error }, `source ${source.description} does not open yet; retrying (capture.retryAtStart)`);
    return new ResilientSource(source, () => buildSource(first, config, log), { ...options, startDown: error, opening });
  }
  try {
    const { source, spec } = await openWithSpec(config, log);
    return new ResilientSource(source, () => buildSource(spec, config, log), options);
  } catch (err) {
    // A camera that is not there yet (boot, a USB hub still waking up) is waited for when
    // capture.retryAtStart is on; a file or folder that does not open is a mistake either way.
    const spec = parseSourceSpec(config.source);
    if (!config['capture.retryAtStart'] || !LIVE_KINDS.includes(spec.kind)) throw err;
    const notYet = buildSource(spec, config, log);
    log.warn({ source: notYet.description, err: errorMessage(err) }, `source ${notYet.description} does not open yet; retrying (capture.retryAtStart)`);
    return new ResilientSource(notYet, () => buildSource(spec, config, log), { ...options, startDown: errorMessage(err) });
  }
}

/** How long start-up waits for a live source with capture.retryAtStart before going on without it. */
const OPEN_WAIT_AT_START_MS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sources that can appear later (devices, cameras on the network); files and folders cannot. */
const LIVE_KINDS: ReadonlyArray<SourceSpec['kind']> = ['camera', 'gstreamer', 'url', 'webcam'];

async function openWithSpec(config: Config, log: Logger): Promise<{ source: FrameSource; spec: SourceSpec }> {
  const spec = parseSourceSpec(config.source);
  if (spec.kind === 'auto') return openAuto(config, log);
  const source = buildSource(spec, config, log);
  await source.open();
  return { source, spec };
}

async function openAuto(config: Config, log: Logger): Promise<{ source: FrameSource; spec: SourceSpec }> {
  const cameras = listCameras();
  const tried: string[] = [];
  for (const camera of cameras) {
    const spec: SourceSpec = { kind: 'camera', target: camera.path };
    const source = buildSource(spec, config, log);
    try {
      await source.open();
      log.info({ source: source.description }, `source auto: using camera ${camera.path}`);
      return { source, spec };
    } catch (err) {
      tried.push(`${camera.path}: ${errorMessage(err)}`);
    }
  }
  const demoSpec: SourceSpec = { kind: 'demo' };
  const demo = buildSource(demoSpec, config, log);
  await demo.open();
  log.info({ tried }, cameras.length === 0 ? 'source auto: no camera found (/dev/video*, /dev/v4l/by-id), using the built-in demo scene' : `source auto: none of ${cameras.length} camera(s) opened, using the built-in demo scene`);
  return { source: demo, spec: demoSpec };
}

export function buildSource(spec: SourceSpec, config: Config, log: Logger): FrameSource {
  const camera = { width: config['camera.width'], height: config['camera.height'], fps: config['camera.fps'], preferMjpeg: config['camera.preferMjpeg'] };
  const need = (value: string, key: string, kind: string): string => {
    if (!value) throw new SourceError(`source ${kind} needs ${key} to be set`);
    return value;
  };
  switch (spec.kind) {
    // Live sources open and decode in their own process: opening one can block for up to 30 s
    // (an unreachable IP camera) and a device can hang a read, which must not stop the main thread.
    case 'camera': {
      const target = spec.target ?? config['camera.device'] ?? '';
      if (target) return new ProcessFrameSource({ kind: 'camera', target, camera });
      const first = listCameras()[0];
      if (!first) throw new SourceError('source camera: no camera found (looked for /dev/v4l/by-id/* and /dev/video*)');
      return new ProcessFrameSource({ kind: 'camera', target: first.path, camera });
    }
    case 'gstreamer':
      return new ProcessFrameSource({ kind: 'gstreamer', target: spec.target ?? need(config['gstreamer.pipeline'], 'gstreamer.pipeline', 'gstreamer') });
    case 'url':
      return new ProcessFrameSource({ kind: 'url', target: spec.target ?? need(config['url.address'], 'url.address', 'url') });
    // A file stays on the main thread: it opens in milliseconds and readAsync decodes on the
    // libuv pool, while shipping its frames from a process costs ~10 ms each and would cap an
    // unthrottled file near 60 frames/s.
    case 'file': {
      const file = spec.target ?? need(config['file.path'], 'file.path', 'file');
      if (!fs.existsSync(file)) throw new SourceError(`source file ${file} does not exist`);
      return new OpenCvSource({ kind: 'file', target: file, loop: config['file.loop'], realtime: config['file.realtime'] });
    }
    case 'images':
      return new ImagesSource(spec.target ?? need(config['images.folder'], 'images.folder', 'images'), config['images.fps'], config['images.loop'], (file, reason) =>
        log.warn({ file }, `images: skipping ${file}: ${reason}`),
      );
    case 'webcam':
      return new WebcamSource(spec.target ?? config['webcam.device'], config['camera.width'], config['camera.height']);
    case 'demo':
      return new DemoSource({ width: 640, height: 480, fps: config['demo.fps'], secondsPerDigit: config['demo.secondsPerDigit'], seed: config['demo.seed'] });
    default:
      throw new SourceError(`source kind ${spec.kind} is not supported here`);
  }
}
