/**
 * Child process for model-store-crash.test: runs one ModelStore install or rollback on a state
 * directory and SIGKILLs itself right after step number KILL_AT (as a power cut or the OOM
 * killer would), through the store's afterStep seam. Prints the step it died after.
 * Usage: node store-crash-child.js STATE_DIR install|swap KILL_AT [FROM_DIR]
 */
import * as fs from 'node:fs';
import { ModelStore } from '../../src/daemon/model-store';

const [stateDir, op, killAtText, fromDir] = process.argv.slice(2);
const killAt = Number(killAtText);
let steps = 0;
const store = new ModelStore(stateDir, {
  afterStep: (step) => {
    if (++steps !== killAt) return;
    fs.writeSync(1, `killed after ${step}\n`);
    process.kill(process.pid, 'SIGKILL');
  },
});
async function main(): Promise<void> {
  if (op === 'install') await store.install(fromDir, store.activeDir);
  else store.swapWithPrevious();
  fs.writeSync(1, `finished after ${steps} steps\n`);
}
void main();
