/**
 * The process groups this agent started, mirrored to the pgid file (one id per line, replaced
 * atomically on every change) so the local container host can reap them if the agent dies
 * without cleaning up. A group stays tracked after its leader exits while members live on.
 */
import fs from 'node:fs';

export class ProcessGroups {
  private readonly file: string | undefined;
  /** pgid → the process id it belongs to (null for exec and checkout commands). */
  private readonly groups = new Map<number, string | null>();
  /** Groups whose leader exited; dropped once their last member is gone. */
  private readonly lingering = new Set<number>();
  /** The agent's own helpers (cloudflared): reaped like the rest, but their ports are not the sandbox's. */
  private readonly hidden = new Set<number>();

  constructor(pgidFile: string | undefined) {
    this.file = pgidFile || undefined;
    this.persist();
  }

  /** `hidden`: a helper the agent runs for itself, left out of snapshot() (port detection). */
  add(pgid: number, processId: string | null, opts: { hidden?: boolean } = {}): void {
    this.groups.set(pgid, processId);
    this.lingering.delete(pgid);
    if (opts.hidden) this.hidden.add(pgid);
    else this.hidden.delete(pgid);
    this.persist();
  }

  /** The leader exited: forget the group unless some member still runs. */
  leaderExited(pgid: number): void {
    if (!this.groups.has(pgid)) return;
    if (groupAlive(pgid)) this.lingering.add(pgid);
    else this.forget(pgid);
    this.persist();
  }

  /** Forgets lingering groups whose members have all gone. */
  prune(): void {
    let changed = false;
    for (const pgid of this.lingering) {
      if (!groupAlive(pgid)) {
        this.forget(pgid);
        changed = true;
      }
    }
    if (changed) this.persist();
  }

  /** Forgets every group with no live member (at shutdown, after the last signal). */
  forgetDead(): void {
    for (const pgid of [...this.groups.keys()]) {
      if (!groupAlive(pgid)) this.forget(pgid);
    }
    this.persist();
  }

  isLingering(pgid: number): boolean {
    return this.lingering.has(pgid);
  }

  /** A snapshot of the sandbox's own groups (hidden helpers left out): pgid → process id. */
  snapshot(): Map<number, string | null> {
    const out = new Map(this.groups);
    for (const pgid of this.hidden) out.delete(pgid);
    return out;
  }

  get size(): number {
    return this.groups.size;
  }

  /** Sends `signal` to one group; false when it no longer exists. */
  signal(pgid: number, signal: NodeJS.Signals): boolean {
    return signalGroup(pgid, signal);
  }

  signalAll(signal: NodeJS.Signals): void {
    for (const pgid of this.groups.keys()) this.signal(pgid, signal);
  }

  /** True while any tracked group still has a member. */
  anyAlive(): boolean {
    for (const pgid of this.groups.keys()) if (groupAlive(pgid)) return true;
    return false;
  }

  private forget(pgid: number): void {
    this.groups.delete(pgid);
    this.lingering.delete(pgid);
    this.hidden.delete(pgid);
  }

  private persist(): void {
    if (!this.file) return;
    const text = [...this.groups.keys()].map((g) => `${g}\n`).join('');
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, this.file);
    } catch (err) {
      console.error(`could not write pgid file ${this.file}:`, (err as Error).message);
    }
  }
}

/**
 * The one way container/ signals a whole process group (the agent's commands, the host's agents).
 * Refuses group ids 0 and 1, which would mean "my own group" or every process; false when the
 * group is gone.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but is not ours to signal: still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
