import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SourceError } from '../util/errors';
import { cv } from '../vision/cv';
import type { CapturedImage, FrameSource } from './frame-source';

interface NodeWebcam {
  capture(location: string, callback: (err: Error | null, data: unknown) => void): void;
}

/**
 * node-webcam (which runs fswebcam once per frame) for cameras OpenCV cannot open. It is slow
 * (a process per frame, a few fps at best) and meant as a fallback only.
 */
export class WebcamSource implements FrameSource {
  readonly kind = 'webcam' as const;
  readonly description: string;
  readonly paceFps = undefined;
  private webcam: NodeWebcam | undefined;
  private readonly shotFile = path.join(os.tmpdir(), `edgesight-webcam-${process.pid}`);

  constructor(private readonly device: string, private readonly width: number, private readonly height: number) {
    this.description = `webcam ${device} (node-webcam/fswebcam)`;
  }

  async open(): Promise<void> {
    try {
      execFileSync('fswebcam', ['--version'], { stdio: 'ignore' });
    } catch {
      throw new SourceError(`cannot open ${this.description}: fswebcam is not installed (apt-get install fswebcam)`);
    }
    // node-webcam builds a shell command line from the device: accept plain device paths only.
    if (!/^\/dev\/[\w./-]+$/.test(this.device)) throw new SourceError(`cannot open ${this.description}: '${this.device}' is not a device path like /dev/video0`);
    if (!fs.existsSync(this.device)) throw new SourceError(`cannot open ${this.description}: ${this.device} does not exist`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const NodeWebcamModule = require('node-webcam') as { create(options: Record<string, unknown>): NodeWebcam };
    this.webcam = NodeWebcamModule.create({
      width: this.width,
      height: this.height,
      device: this.device,
      output: 'jpeg',
      callbackReturn: 'buffer',
      saveShots: false,
      verbose: false,
      delay: 0,
    });
    const first = await this.read();
    if (!first) throw new SourceError(`cannot read from ${this.description}`);
  }

  read(): Promise<CapturedImage | null> {
    const webcam = this.webcam;
    if (!webcam) return Promise.reject(new SourceError(`${this.description} is not open`));
    return new Promise((resolve, reject) => {
      // Each shot goes through a file; keep it in the temp dir, not the (maybe read-only) cwd.
      webcam.capture(this.shotFile, (err, data) => {
        if (err || !Buffer.isBuffer(data)) {
          reject(new SourceError(`${this.description} capture failed: ${err ? err.message : 'no image data'}`));
          return;
        }
        cv.imdecodeAsync(data).then(
          (mat) => (mat.empty ? reject(new SourceError(`${this.description} returned an undecodable image`)) : resolve({ mat })),
          (e: Error) => reject(new SourceError(`${this.description} returned an undecodable image: ${e.message}`)),
        );
      });
    });
  }

  async close(): Promise<void> {
    this.webcam = undefined;
    fs.rmSync(`${this.shotFile}.jpg`, { force: true });
  }
}
