/**
 * The capture process: opens an OpenCV source and decodes its frames here, so that a blocking
 * open (an unreachable IP camera holds VideoCapture for up to 30 s), a slow read or a reopen
 * never stops the main thread. It keeps at most one decoded frame ready and sends frames only
 * as the main side asks for them, so nothing queues:
 * - a live source (camera, stream) is read continuously and a newer frame replaces one not yet
 *   asked for, as a camera's own one-frame buffer would;
 * - a file (played in real time or read on demand) is read one frame ahead and then waits,
 *   so that no frame of it is lost.
 */
import { errorMessage } from '../../util/errors';
import type { Mat } from '../../vision/cv';
import { OpenCvSource } from '../opencv-source';
import { packFrame } from './pixels';
import type { FromCapture, ToCapture, CaptureOptions } from './protocol';

if (!process.send) throw new Error('capture-process runs only as a forked child (it needs an IPC channel)');
const options = JSON.parse(process.env.EDGESIGHT_CAPTURE_SOURCE ?? '') as CaptureOptions;
const source = new OpenCvSource({ ...options, syncReads: true });
let wanted = 0;
let ready: Mat | undefined;
let ended = false;
let closing = false;
let wakeLoop: (() => void) | undefined;

function post(message: FromCapture): void {
  process.send!(message);
}

/** Sends the ready frame (and then the end) to a main side that asked for it. */
function flush(): void {
  if (wanted > 0 && ready) {
    const message = packFrame(ready);
    ready.release();
    ready = undefined;
    wanted--;
    post(message);
  }
  if (wanted > 0 && ended) post({ type: 'ended' });
}

process.on('message', (message: ToCapture) => {
  if (message.type === 'want') wanted++;
  else if (message.type === 'close') closing = true;
  flush();
  wakeLoop?.();
});

/** Lets 'want' and 'close' messages in between two synchronous decodes. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function nextMessage(): Promise<void> {
  return new Promise((resolve) => (wakeLoop = resolve));
}

async function main(): Promise<void> {
  try {
    await source.open();
  } catch (err) {
    post({ type: 'openFailed', message: errorMessage(err) });
    process.disconnect();
    return;
  }
  const live = !source.onDemand && !source.paceFps;
  post({ type: 'opened', description: source.description, paceFps: source.paceFps, onDemand: source.onDemand });
  try {
    while (!closing) {
      if (ready && !live) {
        await nextMessage();
        continue;
      }
      const image = await source.read();
      if (!image) {
        ended = true;
        flush();
        break;
      }
      ready?.release();
      ready = image.mat;
      flush();
      await turn();
    }
  } catch (err) {
    post({ type: 'failed', message: errorMessage(err) });
  } finally {
    ready?.release();
    ready = undefined;
    await source.close();
  }
  // Wait to be told: an 'ended' source stays until the main side closes it.
  while (!closing) await nextMessage();
  process.disconnect();
}

// The parent gone (killed, crashed) means nobody wants frames: end rather than linger.
process.on('disconnect', () => process.exit(0));

void main();
