/**
 * One cloudflared quick tunnel process: started as the leader of its own process group (tracked,
 * hidden, in ProcessGroups so it dies with the agent), its output followed by CloudflaredOutput,
 * its exit recorded once. Also the metrics `/ready` probe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { CloudflaredOutput } from './cloudflared-output';
import type { ProcessGroups } from '../processes/process-groups';

/** How long a stop waits after SIGTERM before SIGKILL (cloudflared drains its edge connection). */
export const STOP_GRACE_MS = 2000;

export interface CloudflaredExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when it never started (ENOENT: no such binary; EACCES: not executable). */
  spawnError?: NodeJS.ErrnoException;
}

export interface CloudflaredSpec {
  binary: string;
  /** The sandbox port the tunnel forwards to. */
  port: number;
  /** host:port for cloudflared's metrics server (where /ready is served). */
  metrics: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  groups: ProcessGroups;
}

/** The command line of a quick tunnel (SPEC 2.5). */
export function cloudflaredArgs(port: number, metrics: string): string[] {
  return ['tunnel', '--no-autoupdate', '--url', `http://localhost:${port}`, '--output', 'json', '--metrics', metrics];
}

export class CloudflaredProcess {
  readonly output = new CloudflaredOutput();
  readonly metrics: string;
  /** Resolves once, when it exited or failed to start. */
  readonly exited: Promise<CloudflaredExit>;
  exit: CloudflaredExit | null = null;
  private readonly child: ChildProcess;
  private readonly groups: ProcessGroups;
  private readonly changeListeners = new Set<() => void>();

  constructor(spec: CloudflaredSpec) {
    this.metrics = spec.metrics;
    this.groups = spec.groups;
    this.child = spawn(spec.binary, cloudflaredArgs(spec.port, spec.metrics), {
      cwd: spec.cwd,
      env: spec.env,
      detached: true, // its own process group, so one signal ends it and anything it started
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pgid = this.child.pid;
    if (pgid !== undefined) this.groups.add(pgid, null, { hidden: true });
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = this.child[name]!;
      const decoder = new StringDecoder('utf8');
      stream.on('data', (chunk: Buffer) => {
        if (this.output.feed(name, decoder.write(chunk)).length > 0) this.changed();
      });
      stream.on('error', () => {});
    }
    this.exited = new Promise((resolve) => {
      const finish = (exit: CloudflaredExit): void => {
        if (this.exit) return;
        this.output.end();
        this.exit = exit;
        if (pgid !== undefined) this.groups.leaderExited(pgid);
        resolve(exit);
        this.changed();
      };
      this.child.on('error', (err) => {
        if (this.child.pid === undefined) finish({ code: null, signal: null, spawnError: err });
      });
      this.child.once('exit', (code, signal) => {
        // Let the pipes deliver the last lines (an error message printed just before exiting).
        const grace = setTimeout(() => finish({ code, signal }), 200);
        this.child.once('close', () => {
          clearTimeout(grace);
          finish({ code, signal });
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Called after new output lines or the exit; returns an unsubscribe. */
  onChange(fn: () => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    const pgid = this.child.pid;
    if (this.exit || pgid === undefined) return;
    this.groups.signal(pgid, 'SIGTERM');
    const timer = setTimeout(() => this.groups.signal(pgid, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL to the group at once (a start that failed or timed out). */
  kill(): void {
    const pgid = this.child.pid;
    if (!this.exit && pgid !== undefined) this.groups.signal(pgid, 'SIGKILL');
  }

  private changed(): void {
    for (const fn of this.changeListeners) fn();
  }
}

/** A loopback TCP port nobody listens on right now (the kernel's pick) for the metrics server. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** One GET of `http://{metrics}/ready`: true on 200 (a connection to the edge is registered). */
export function probeReady(metrics: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`http://${metrics}/ready`, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => resolve(false));
  });
}
