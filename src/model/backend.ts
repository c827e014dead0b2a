import * as tf from '@tensorflow/tfjs';
import type { BackendPreference } from '../config/backend-preference';

export type { BackendPreference } from '../config/backend-preference';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface BackendChoice {
  /** The TensorFlow.js backend in use (tfjs-node registers itself as 'tensorflow'). */
  name: BackendName;
  /** What was tried before it, and why each was passed over. */
  skipped: string[];
}

let chosen: BackendChoice | undefined;

/**
 * Picks the TensorFlow.js backend once per process (the inference engine, TF.js or OpenCV DNN,
 * is chosen per model in engine/select-engine.ts): tfjs-node when it is installed (it is an
 * optional dependency whose install needs a download), else WASM (shipped inside its npm
 * package), else the pure-JS cpu backend, which is 10-25x slower.
 */
export async function selectBackend(preference: BackendPreference): Promise<BackendChoice> {
  if (chosen) {
    if (preference === 'auto' || preference === 'opencv' || preferenceFor(chosen.name) === preference) return chosen;
    throw new Error(`backend already set to ${chosen.name}; a process uses one backend`);
  }
  // OpenCV DNN still needs TF.js to load the model and check the conversion: the usual order.
  const order: BackendPreference[] = preference === 'auto' || preference === 'opencv' ? ['tfjs-node', 'wasm', 'cpu'] : [preference];
  const skipped: string[] = [];
  for (const candidate of order) {
    try {
      const name = await activate(candidate);
      chosen = { name, skipped };
      return chosen;
    } catch (err) {
      skipped.push(`${candidate}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start (${skipped.join('; ')})`);
}

function preferenceFor(name: BackendName): BackendPreference {
  return name === 'tensorflow' ? 'tfjs-node' : name;
}

async function activate(candidate: BackendPreference): Promise<BackendName> {
  switch (candidate) {
    case 'tfjs-node': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node loaded but its backend did not start');
      return 'tensorflow';
    }
    case 'wasm': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('the WASM backend did not initialise');
      return 'wasm';
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      return 'cpu';
    }
    default:
      throw new Error(`unknown backend ${candidate}`);
  }
}

export function currentBackend(): BackendChoice | undefined {
  return chosen;
}
