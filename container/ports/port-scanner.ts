/**
 * Detects the TCP ports this sandbox's processes listen on, from /proc: LISTEN sockets, matched by
 * inode to the open files of the pids that belong to the process groups this agent started. Runs
 * every `intervalMs` while any group is tracked; changes become port-detected / port-closed events.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AgentEvent, ListenerInfo } from '../../worker/protocol/agent';
import type { DetectedPort } from '../../worker/protocol/process';
import type { EventLog } from '../event-log';
import { attributePids, parseProcNetTcp, parseProcStat, socketInode, widestPerPort, type ListenSocket, type ProcStat } from './listening-ports';
import type { ProcessGroups } from '../processes/process-groups';

export interface PortScannerDeps {
  groups: ProcessGroups;
  events: EventLog<AgentEvent>;
  intervalMs: number;
  /** The agent's own port, never reported. */
  ownPort: () => number;
  /** Everything the agent sees is the sandbox's (namespaces, a container): any listener is its own. */
  ownView?: boolean;
  procRoot?: string;
}

export class PortScanner {
  private readonly deps: PortScannerDeps;
  private readonly proc: string;
  private detected = new Map<number, DetectedPort>();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<DetectedPort[]> | null = null;
  /** Inodes and groups of the last full scan: when both are unchanged, so is the answer. */
  private lastKey = '';
  private lastOwned: DetectedPort[] = [];

  constructor(deps: PortScannerDeps) {
    this.deps = deps;
    this.proc = deps.procRoot ?? '/proc';
  }

  /** Starts the periodic scan (a process started). */
  wake(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Scans now (one scan at a time; callers during a scan share its result). */
  scan(): Promise<DetectedPort[]> {
    if (!this.inFlight) {
      this.inFlight = this.scanOnce().finally(() => {
        this.inFlight = null;
      });
    }
    return this.inFlight;
  }

  /**
   * Who holds `port`, any process at all (for "bound to 127.0.0.1 only"), and whether it is this
   * sandbox: as plain processes, a port on the machine may be another sandbox's or program's.
   */
  async listener(port: number): Promise<ListenerInfo> {
    const sockets = (await this.listenSockets()).filter((s) => s.port === port);
    const best = widestPerPort(sockets)[0];
    if (!best) return { listening: false };
    if (this.deps.ownView) return { listening: true, address: best.address, owner: 'sandbox' };
    const own = (await this.ownedPorts()).find((p) => p.port === port);
    if (own) return { listening: true, address: own.address, owner: 'sandbox' };
    const holder = await this.holderOf(new Set(sockets.map((s) => s.inode)));
    return { listening: true, address: best.address, owner: 'other', holder: holder ?? 'a process this agent cannot see' };
  }

  /** `pid N (command)` of a process holding one of `inodes`, or null. */
  private async holderOf(inodes: Set<number>): Promise<string | null> {
    for (const pid of (await this.readStats()).keys()) {
      if ((await this.socketInodes(pid)).some((i) => inodes.has(i))) {
        const cmd = (await readText(path.join(this.proc, String(pid), 'cmdline'))).split('\0').filter(Boolean).join(' ');
        return `pid ${pid} (${cmd.length > 80 ? `${cmd.slice(0, 77)}...` : cmd})`;
      }
    }
    return null;
  }

  private async tick(): Promise<void> {
    try {
      this.deps.groups.prune();
      await this.scan();
      if (this.deps.groups.size === 0) this.stop();
    } catch (err) {
      console.error('port scan failed:', err);
    }
  }

  private async scanOnce(): Promise<DetectedPort[]> {
    const ports = await this.ownedPorts();
    const next = new Map(ports.map((p) => [p.port, p]));
    for (const [port, p] of next) {
      const before = this.detected.get(port);
      if (!before || before.address !== p.address || before.pid !== p.pid) {
        this.deps.events.append({ type: 'port-detected', port: p });
      }
    }
    for (const port of this.detected.keys()) {
      if (!next.has(port)) this.deps.events.append({ type: 'port-closed', port });
    }
    this.detected = next;
    return ports;
  }

  private async ownedPorts(): Promise<DetectedPort[]> {
    const groups = this.deps.groups.snapshot();
    const own = this.deps.ownPort();
    const sockets = (await this.listenSockets()).filter((s) => s.port !== own);
    if (groups.size === 0 || sockets.length === 0) return [];
    const key = `${sockets
      .map((s) => s.inode)
      .sort()
      .join(',')}|${[...groups.keys()].sort().join(',')}`;
    if (key === this.lastKey) return this.lastOwned;

    const byInode = new Map(sockets.map((s) => [s.inode, s]));
    const owners = attributePids(await this.readStats(), groups);
    const found: DetectedPort[] = [];
    await Promise.all(
      [...owners].map(async ([pid, processId]) => {
        for (const inode of await this.socketInodes(pid)) {
          const s = byInode.get(inode);
          if (s) found.push({ port: s.port, address: s.address, pid, processId });
        }
      }),
    );
    // The lowest pid (usually the parent that bound the socket) names a port held by several.
    found.sort((a, b) => a.pid - b.pid);
    this.lastKey = key;
    this.lastOwned = widestPerPort(found);
    return this.lastOwned;
  }

  private async listenSockets(): Promise<ListenSocket[]> {
    const texts = await Promise.all(['tcp', 'tcp6'].map((f) => readText(path.join(this.proc, 'net', f))));
    return texts.flatMap((t) => parseProcNetTcp(t));
  }

  private async readStats(): Promise<Map<number, ProcStat>> {
    const stats = new Map<number, ProcStat>();
    let entries: string[];
    try {
      entries = await fs.readdir(this.proc);
    } catch {
      return stats;
    }
    await Promise.all(
      entries
        .filter((e) => /^\d+$/.test(e))
        .map(async (e) => {
          const st = parseProcStat(await readText(path.join(this.proc, e, 'stat')));
          if (st) stats.set(st.pid, st);
        }),
    );
    return stats;
  }

  private async socketInodes(pid: number): Promise<number[]> {
    const dir = path.join(this.proc, String(pid), 'fd');
    let fds: string[];
    try {
      fds = await fs.readdir(dir);
    } catch {
      return []; // gone, or not ours to read
    }
    const inodes = await Promise.all(
      fds.map(async (fd) => {
        try {
          return socketInode(await fs.readlink(path.join(dir, fd)));
        } catch {
          return null;
        }
      }),
    );
    return inodes.filter((i): i is number => i !== null);
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return '';
  }
}
