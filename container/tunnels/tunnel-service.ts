/**
 * Quick tunnels (SPEC 2.5): one cloudflared per port, started once however many ask at the same
 * time, answered only when cloudflared has printed its trycloudflare.com URL and its metrics
 * server says `/ready`. tunnel-up / tunnel-down events go to the agent's event log; a tunnel
 * whose cloudflared dies is forgotten, so the next get() makes a new one.
 */
import type { AgentEvent } from '../../worker/protocol/agent';
import type { TunnelInfo } from '../../worker/protocol/api';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { checkUserPort } from '../../worker/protocol/ports';
import { generateTunnelId } from '../../worker/protocol/tokens';
import { CloudflaredProcess, freeLoopbackPort, probeReady, type CloudflaredExit } from './cloudflared-process';
import type { EventLog } from '../event-log';
import type { ProcessGroups } from '../processes/process-groups';

export const CLOUDFLARED_INSTALL_HINT =
  'install it from https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/ or set SANDBOX_CLOUDFLARED to its path';

/** Between two /ready probes. */
const READY_POLL_MS = 100;

export interface TunnelServiceDeps {
  groups: ProcessGroups;
  events: EventLog<AgentEvent>;
  /** The cloudflared binary (a path, or a name on PATH). */
  binary: string;
  /** Where cloudflared runs (the workspace, so a host reaping leftovers recognises it). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How long a start may take to get its URL and become ready. */
  timeoutMs: number;
}

interface Tunnel {
  port: number;
  /** The shared start; every concurrent get() awaits this one. */
  starting: Promise<TunnelInfo>;
  info: TunnelInfo | null;
  proc: CloudflaredProcess | null;
  destroyed: boolean;
}

export class TunnelService {
  private readonly deps: TunnelServiceDeps;
  private readonly tunnels = new Map<number, Tunnel>();

  constructor(deps: TunnelServiceDeps) {
    this.deps = deps;
  }

  /** The tunnel for `port`, started when there is none (idempotent; concurrent calls share a start). */
  get(portValue: unknown): Promise<TunnelInfo> {
    let port: number;
    try {
      port = checkUserPort(portValue);
    } catch (err) {
      return Promise.reject(err);
    }
    const existing = this.tunnels.get(port);
    if (existing) return existing.info ? Promise.resolve(existing.info) : existing.starting;
    const tunnel: Tunnel = { port, starting: Promise.resolve(null as never), info: null, proc: null, destroyed: false };
    tunnel.starting = this.start(tunnel);
    this.tunnels.set(port, tunnel);
    tunnel.starting.catch(() => {
      if (this.tunnels.get(port) === tunnel) this.tunnels.delete(port);
    });
    return tunnel.starting;
  }

  /** Every tunnel that is up, sorted by port. */
  list(): TunnelInfo[] {
    return [...this.tunnels.values()]
      .map((t) => t.info)
      .filter((i): i is TunnelInfo => i !== null)
      .sort((a, b) => a.port - b.port);
  }

  /** Ends the tunnel for `port` and waits until its cloudflared is gone; unknown ports are fine. */
  async destroy(portValue: unknown): Promise<void> {
    const port = checkUserPort(portValue);
    const tunnel = this.tunnels.get(port);
    if (!tunnel) return;
    this.tunnels.delete(port);
    tunnel.destroyed = true;
    if (tunnel.info) this.deps.events.append({ type: 'tunnel-down', port, reason: 'destroyed' });
    await tunnel.proc?.stop();
  }

  /** Ends every tunnel (the agent stops). */
  async destroyAll(): Promise<void> {
    await Promise.all([...this.tunnels.keys()].map((port) => this.destroy(port)));
  }

  private async start(tunnel: Tunnel): Promise<TunnelInfo> {
    const { port } = tunnel;
    const metrics = `127.0.0.1:${await freeLoopbackPort()}`;
    if (tunnel.destroyed) throw destroyedBeforeReady(port);
    const proc = new CloudflaredProcess({
      binary: this.deps.binary,
      port,
      metrics,
      cwd: this.deps.cwd,
      env: this.deps.env,
      groups: this.deps.groups,
    });
    tunnel.proc = proc;
    void proc.exited.then((exit) => this.exited(tunnel, exit));
    try {
      const url = await this.untilReady(tunnel, proc);
      const info: TunnelInfo = {
        id: generateTunnelId(),
        port,
        url: url.url,
        hostname: url.hostname,
        createdAt: new Date().toISOString(),
      };
      tunnel.info = info;
      this.deps.events.append({ type: 'tunnel-up', tunnel: info });
      return info;
    } catch (err) {
      proc.kill();
      throw err;
    }
  }

  /** Waits for the URL in the output, then for /ready; fails on exit, destroy or timeout. */
  private untilReady(tunnel: Tunnel, proc: CloudflaredProcess): Promise<{ url: string; hostname: string }> {
    const { port } = tunnel;
    const timeoutMs = this.deps.timeoutMs;
    return new Promise((resolve, reject) => {
      let done = false;
      let probing = false;
      let pollTimer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        clearTimeout(pollTimer);
        unsubscribe();
        fn();
      };
      const check = (): void => {
        if (done) return;
        if (tunnel.destroyed) return finish(() => reject(destroyedBeforeReady(port)));
        if (proc.exit) return finish(() => reject(exitError(port, proc.exit!, proc, this.deps.binary)));
        if (!proc.output.url || probing || pollTimer) return;
        probing = true;
        void probeReady(proc.output.metrics ?? proc.metrics).then((ready) => {
          probing = false;
          if (done) return;
          if (ready && !proc.exit && !tunnel.destroyed) return finish(() => resolve(proc.output.url!));
          pollTimer = setTimeout(() => {
            pollTimer = undefined;
            check();
          }, READY_POLL_MS);
          check();
        });
      };
      const deadline = setTimeout(() => {
        const waitingFor = proc.output.url ? `readiness of its metrics server (http://${proc.output.metrics ?? proc.metrics}/ready)` : 'the trycloudflare.com URL in its output';
        finish(() =>
          reject(new SandboxError(ErrorCode.TIMEOUT, `Tunnel for port ${port} was not ready within ${timeoutMs}ms (waiting for ${waitingFor}). ${proc.output.describeTail()}`)),
        );
      }, timeoutMs);
      const unsubscribe = proc.onChange(check);
      check();
    });
  }

  private exited(tunnel: Tunnel, exit: CloudflaredExit): void {
    if (this.tunnels.get(tunnel.port) !== tunnel) return; // destroyed, or a failed start already gone
    if (!tunnel.info) return; // still starting: untilReady reports it
    this.tunnels.delete(tunnel.port);
    this.deps.events.append({ type: 'tunnel-down', port: tunnel.port, reason: `cloudflared exited (${describeExit(exit)})` });
  }
}

function describeExit(exit: CloudflaredExit): string {
  if (exit.signal) return `signal ${exit.signal}`;
  return `code ${exit.code}`;
}

function destroyedBeforeReady(port: number): SandboxError {
  return new SandboxError(ErrorCode.COMMAND_FAILED, `The tunnel for port ${port} was destroyed before it was ready`);
}

function exitError(port: number, exit: CloudflaredExit, proc: CloudflaredProcess, binary: string): SandboxError {
  const err = exit.spawnError;
  if (err?.code === 'ENOENT') {
    return new SandboxError(ErrorCode.CLOUDFLARED_NOT_FOUND, `cloudflared is not installed in this sandbox (${binary} not found): ${CLOUDFLARED_INSTALL_HINT}`);
  }
  if (err) {
    return new SandboxError(ErrorCode.COMMAND_FAILED, `Could not run cloudflared (${binary}): ${err.message}`);
  }
  return new SandboxError(ErrorCode.COMMAND_FAILED, `cloudflared exited (${describeExit(exit)}) before the tunnel for port ${port} was ready. ${proc.output.describeTail()}`);
}
