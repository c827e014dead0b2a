import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPackageFiles } from '../model/package-io';
import { errorMessage } from '../util/errors';
import type { Logger } from '../util/logger';
import type { ModelHandoff } from './model-handoff';

const REJECTED = '.rejected';
const KEEP_REJECTED = 5;

export interface InboxOptions {
  pollMs?: number;
  /** A package is taken once nothing in it changed for this long (a copy in progress keeps changing). */
  settleMs?: number;
}

/**
 * Watches STATE/inbox for model packages copied in (scp -r mymodel pi@device:/var/lib/edgesight/inbox/).
 * A folder is taken only when it is complete — model.json parses, every weight shard it names
 * is there with the declared byte length, metadata.json parses — and has not changed for
 * settleMs; a half-copied folder is never picked up. Taken packages leave the inbox; refused
 * ones move to inbox/.rejected/ with a REJECTED.txt saying why (the last five are kept).
 * Polling rather than fs.watch: it works the same on every filesystem and costs one readdir
 * every few seconds.
 */
export class ModelInbox {
  readonly dir: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Map<string, string>();
  private readonly warned = new Set<string>();
  private busy = false;
  private readonly pollMs: number;
  private readonly settleMs: number;

  constructor(
    stateDir: string,
    private readonly handoff: ModelHandoff,
    private readonly log: Logger,
    options: InboxOptions = {},
  ) {
    this.dir = path.join(stateDir, 'inbox');
    this.pollMs = options.pollMs ?? 2000;
    this.settleMs = options.settleMs ?? 3000;
  }

  start(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // A folder removed while it is being looked at must not take the daemon down.
    this.timer = setInterval(() => void this.poll().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'inbox: could not look at the inbox')), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One look at the inbox; installs at most one package per look. */
  async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      let names: string[];
      try {
        names = fs.readdirSync(this.dir).filter((n) => !n.startsWith('.')).sort();
      } catch {
        return;
      }
      for (const key of [...this.seen.keys()]) if (!names.includes(key)) this.seen.delete(key);
      for (const name of names) {
        const folder = path.join(this.dir, name);
        if (!fs.statSync(folder).isDirectory()) continue;
        const signature = fingerprint(folder);
        const settled = this.seen.get(name) === signature.text && Date.now() - signature.newestMs >= this.settleMs;
        this.seen.set(name, signature.text);
        if (!settled) continue;
        const missing = incompleteReason(folder);
        if (missing) {
          // Settled but incomplete: a copy that stopped halfway. Keep waiting for the rest,
          // and say once what is missing in case nothing more is coming.
          if (!this.warned.has(signature.text)) {
            this.warned.add(signature.text);
            if (this.warned.size > 100) this.warned.clear();
            this.log.warn({ folder, missing }, `inbox: ${name} is not a complete model package yet; waiting (${missing})`);
          }
          continue;
        }
        await this.take(name, folder);
        return;
      }
    } finally {
      this.busy = false;
    }
  }

  private async take(name: string, folder: string): Promise<void> {
    this.log.info({ folder }, `inbox: new model package ${name}`);
    try {
      await this.handoff.install(folder, `inbox/${name}`);
      fs.rmSync(folder, { recursive: true, force: true });
    } catch (err) {
      const reason = errorMessage(err);
      this.log.error({ folder, err: reason }, `inbox: model package ${name} refused; the running model keeps serving`);
      this.reject(name, folder, reason);
    }
    this.seen.delete(name);
  }

  private reject(name: string, folder: string, reason: string): void {
    const rejectedRoot = path.join(this.dir, REJECTED);
    fs.mkdirSync(rejectedRoot, { recursive: true, mode: 0o700 });
    const target = path.join(rejectedRoot, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    try {
      fs.renameSync(folder, target);
      fs.writeFileSync(path.join(target, 'REJECTED.txt'), reason + '\n');
    } catch {
      fs.rmSync(folder, { recursive: true, force: true });
    }
    const kept = fs.readdirSync(rejectedRoot).sort();
    for (const old of kept.slice(0, Math.max(0, kept.length - KEEP_REJECTED))) fs.rmSync(path.join(rejectedRoot, old), { recursive: true, force: true });
  }
}

/** Names, sizes and times of everything in the folder (bounded), and the newest time. */
function fingerprint(folder: string): { text: string; newestMs: number } {
  const parts: string[] = [];
  let newestMs = 0;
  const walk = (dir: string, depth: number) => {
    if (depth > 4 || parts.length > 1000) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      const stat = fs.statSync(file);
      newestMs = Math.max(newestMs, stat.mtimeMs);
      parts.push(`${path.relative(folder, file)}:${stat.size}:${stat.mtimeMs}`);
      if (entry.isDirectory()) walk(file, depth + 1);
    }
  };
  walk(folder, 0);
  return { text: parts.join('|'), newestMs };
}

/** Undefined when model.json, its weight shards (with the declared sizes) and metadata.json are all there; else what is wrong. */
export function incompleteReason(folder: string): string | undefined {
  try {
    checkPackageFiles(folder);
    JSON.parse(fs.readFileSync(path.join(folder, 'metadata.json'), 'utf8'));
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
