/**
 * "Frames are flowing": the one judgement behind GET /healthz and the systemd watchdog. A frame
 * classified within the last MIN_GAP_MS counts, or within three frame intervals of a paced
 * source (a slideshow of images.fps 0.1 shows a frame every 10 s and is healthy all the same).
 */
export const MIN_GAP_MS = 5000;

/** How long after the last classified frame the frames still count as flowing. */
export function allowedGapMs(paceFps: number | undefined): number {
  return paceFps && paceFps > 0 ? Math.max(MIN_GAP_MS, 3000 / paceFps) : MIN_GAP_MS;
}

export function framesFlowing(lastDecidedAt: number | undefined, paceFps: number | undefined, now = Date.now()): boolean {
  return lastDecidedAt !== undefined && now - lastDecidedAt <= allowedGapMs(paceFps);
}
