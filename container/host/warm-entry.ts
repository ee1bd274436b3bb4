/**
 * A shell that has already joined cgroups of its own and waits to become a sandbox's bubblewrap.
 * Moving a process into a cgroup waits for the kernel's RCU grace period (v1 and v2 alike): about a
 * millisecond on an idle machine, 10–20 ms while a sandbox starts beside the Worker's work — most
 * of what limits would add to a cold start. The host keeps one entry waiting; a start renames its
 * cgroups to the sandbox's, sets the limits, and releases it (agent-launch.ts), and the next entry
 * is made once that sandbox's agent is up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { bwrapCommand, entryEnv, type WaitingEntry } from './agent-launch';
import type { CgroupDriver } from './limits/cgroups';

export interface WarmEntryOptions {
  /** The cgroup name it waits in (in every hierarchy). */
  cgroup: string;
  procsFiles: string[];
  oomScoreAdj: number;
  /** Its own environment: only what finds bwrap (the sandbox's comes with bwrap's options). */
  env: NodeJS.ProcessEnv;
}

/** The descriptors every sandbox's first process has: IPC channel at 3, bwrap's info at 4, its options at 5. */
export const ENTRY_STDIO = ['pipe', 'pipe', 'inherit', 'ipc', 'pipe', 'pipe'] as const;

export class WarmEntry implements WaitingEntry {
  readonly child: ChildProcess;
  readonly cgroup: string;
  private isJoined = false;

  constructor(options: WarmEntryOptions) {
    this.cgroup = options.cgroup;
    const [file, args] = bwrapCommand({ cgroupProcs: options.procsFiles, oomScoreAdj: options.oomScoreAdj }, true);
    this.child = spawn(file, args, {
      env: options.env,
      detached: true,
      stdio: [...ENTRY_STDIO],
    });
    this.child.stdout!.once('data', (chunk: Buffer) => {
      if (chunk.toString().startsWith('joined')) this.isJoined = true;
    });
    this.child.stdin!.on('error', () => {});
    this.child.once('error', () => {});
  }

  /** In its cgroups, waiting, and still there. */
  get ready(): boolean {
    return this.isJoined && this.child.exitCode === null && this.child.signalCode === null;
  }

  private unused: (() => void) | null = null;

  /** Calls `fn` if it ends while still waiting (its cgroups are then no one's). */
  onUnusedExit(fn: () => void): void {
    this.unused = fn;
    this.child.once('exit', fn);
  }

  /** Taken for a sandbox: its end is that sandbox's agent's from now on. */
  claim(): void {
    if (this.unused) this.child.off('exit', this.unused);
    this.unused = null;
  }

  /** Becomes the program, its output appended to `logFile`. */
  release(logFile: string): void {
    this.child.stdin!.end(`${logFile}\n`);
  }

  dispose(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

const MAX_LOST = 3;

/** The one entry kept waiting, made again after each use. */
export class WarmPool {
  private waiting: WarmEntry | null = null;
  private made = 0;
  private stopped = false;
  /** Entries that ended on their own before they were used, in a row: past a few, none are made. */
  private lost = 0;

  constructor(
    private readonly limits: CgroupDriver,
    private readonly oomScoreAdj: number,
  ) {}

  /** Makes an entry unless one waits (or the host is stopping, or entries keep dying unused). */
  refill(): void {
    if (this.waiting || this.stopped || this.lost >= MAX_LOST) return;
    const cgroup = `warm-${++this.made}`;
    try {
      const entry = new WarmEntry({ cgroup, procsFiles: this.limits.prepare(cgroup), oomScoreAdj: this.oomScoreAdj, env: entryEnv(process.env) });
      this.waiting = entry;
      entry.onUnusedExit(() => {
        if (this.waiting === entry) this.waiting = null;
        void this.limits.remove(entry.cgroup).catch(() => {});
        if (this.stopped) return;
        this.lost++;
        this.refill();
      });
    } catch (err) {
      console.error(`could not make a warm entry: ${(err as Error).message}`);
    }
  }

  /** The waiting entry with its cgroups renamed to `key`'s; null when none is ready (a start then joins them itself). */
  take(key: string): WarmEntry | null {
    const entry = this.waiting;
    if (!entry?.ready) return null;
    this.waiting = null;
    try {
      this.limits.rename(entry.cgroup, key);
    } catch {
      entry.dispose();
      return null;
    }
    entry.claim();
    this.lost = 0;
    return entry;
  }

  dispose(): void {
    this.stopped = true;
    this.waiting?.dispose();
  }
}
