/** Stands in for the conversion process in opencv-engine.test.ts: killed as the kernel's OOM killer would kill it. */
process.kill(process.pid, 'SIGKILL');
