import type { EventQuery, SnapshotKind } from './event-store';
import type { EventRecord } from './model';

/** The event history as the server reads and trims it. */
export interface EventsAccess {
  list(q: EventQuery): { items: EventRecord[]; total: number };
  get(id: string): EventRecord | undefined;
  /** The JPEG file of an event's snapshot, when there is one. */
  snapshotFile(id: string, kind: SnapshotKind): string | undefined;
  delete(id: string): boolean;
  deleteAll(): number;
}

/** How the outward integrations are doing, for /api/status and /metrics. */
export interface IntegrationsStatus {
  events: { enabled: boolean; stored: number; bytes: number; open: string | null; paused: boolean; byLabel: Record<string, number>; droppedJobs: number; deletedByRetention: number; clips: { written: number; dropped: number; ringFrames: number; ringBytes: number } | null };
  mqtt: { enabled: boolean; connected: boolean; published: number; dropped: number; reconnects: number; commandsRejected: number; lastError: string | null };
  webhooks: Array<{ url: string; delivered: number; failed: number; dropped: number; queued: number; lastError: string | null }>;
}
