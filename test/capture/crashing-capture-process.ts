/**
 * Test-only capture process: the real one, which then crashes (an uncaught exception) once it
 * has been running for EDGESIGHT_TEST_CRASH_AFTER_MS. Used through captureProcess.script.
 */
import '../../src/capture/worker/capture-process';

const after = Number(process.env.EDGESIGHT_TEST_CRASH_AFTER_MS ?? 500);
setTimeout(() => {
  throw new Error('injected capture crash');
}, after);
