/**
 * The SDK-compatible API for people who write their own Worker code:
 *   const sandbox = getSandbox(env.Sandbox, 'my-box');
 *   const proc = await sandbox.startProcess('python3 -m http.server 8000');
 *   await proc.waitForPort(8000);
 * Every method is one RPC to the sandbox's Durable Object; errors come back as SandboxError with
 * their code.
 */
import {
  checkSandboxId,
  checkUserPort,
  type ExposePortOptions,
  type ExposedPort,
  type DetectedPort,
  type ExecOptions,
  type ExecResult,
  type ProcessInfo,
  type ProcessLogs,
  type ProcessStatus,
  type SandboxCreateOptions,
  type SandboxState,
  type StartProcessOptions,
  type TunnelInfo,
  type WaitForLogResult,
  type WaitForPortOptions,
} from './protocol/index';
import { sandboxCaller, type Caller } from './sandbox/rpc';
import type { Sandbox } from './sandbox/sandbox';
import { withRoute } from './edge/preview-route';

export interface SandboxOptions {
  /** Lowercase the id before it names the Durable Object (needed for preview URLs). */
  normalizeId?: boolean;
  /** false: a sandbox created through this handle has no outbound network at all. */
  enableInternet?: boolean;
  /** Its Cloudflare instance type when this handle creates it (locally; default SANDBOX_INSTANCE_TYPE). */
  instanceType?: SandboxCreateOptions['instanceType'];
  /** Sizes in place of the instance type's, when this handle creates it (locally). */
  resources?: SandboxCreateOptions['resources'];
}

export class Process implements ProcessInfo {
  id!: string;
  pid!: number | null;
  command!: string;
  status!: ProcessStatus;
  startTime!: string;
  endTime?: string;
  exitCode?: number | null;
  signal?: string | null;
  cwd!: string;

  constructor(
    private readonly call: Caller,
    info: ProcessInfo,
  ) {
    Object.assign(this, info);
  }

  /** Takes a fresh record's state (null: the process is no longer known, keep what we have). */
  private update(info: ProcessInfo | null): void {
    if (info) Object.assign(this, info);
  }

  /** Sends `signal`, then SIGKILL after the grace period (5 s, or `options.graceMs`) if it still runs. */
  async kill(signal: string = 'SIGTERM', options: { graceMs?: number } = {}): Promise<void> {
    await this.call('killProcess', this.id, signal, options.graceMs);
  }

  async getStatus(): Promise<ProcessStatus> {
    this.update(await this.call('getProcess', this.id));
    return this.status;
  }

  getLogs(): Promise<ProcessLogs> {
    return this.call('getProcessLogs', this.id);
  }

  waitForLog(pattern: string | RegExp, timeout?: number): Promise<WaitForLogResult> {
    if (pattern instanceof RegExp) return this.call('waitForLog', this.id, pattern.source, { regex: true, flags: pattern.flags, timeout });
    return this.call('waitForLog', this.id, pattern, { timeout });
  }

  async waitForPort(port: number, options?: WaitForPortOptions): Promise<void> {
    await this.call('waitForPort', this.id, port, options);
  }

  async waitForExit(timeout?: number): Promise<{ exitCode: number | null }> {
    const result = await this.call('waitForExit', this.id, timeout);
    this.update(await this.call('getProcess', this.id));
    return result;
  }
}

/** `sandbox.tunnels`: quick tunnels on *.trycloudflare.com, run by cloudflared in the container. */
export class Tunnels {
  constructor(private readonly call: Caller) {}

  /** The tunnel for a port, started if needed; the same record for the same port. */
  get(port: number): Promise<TunnelInfo> {
    return this.call('getTunnel', port);
  }
  list(): Promise<TunnelInfo[]> {
    return this.call('listTunnels');
  }
  /** Takes the port or the record; destroying an unknown port resolves. */
  async destroy(portOrInfo: number | TunnelInfo): Promise<void> {
    await this.call('destroyTunnel', typeof portOrInfo === 'number' ? portOrInfo : { port: portOrInfo.port });
  }
}

export class SandboxHandle {
  readonly id: string;
  readonly tunnels: Tunnels;
  private readonly call: Caller;

  constructor(
    private readonly ns: DurableObjectNamespace<Sandbox>,
    id: string,
    createOptions: SandboxCreateOptions = {},
  ) {
    this.id = id;
    this.call = sandboxCaller(ns, id, true, createOptions);
    this.tunnels = new Tunnels(this.call);
  }

  getState(): Promise<SandboxState> {
    return this.call('state');
  }
  async destroy(): Promise<void> {
    await this.call('destroy');
  }
  exec(command: string, options?: ExecOptions): Promise<ExecResult> {
    return this.call('exec', command, options);
  }
  async startProcess(command: string, options?: StartProcessOptions): Promise<Process> {
    return new Process(this.call, await this.call('startProcess', command, options));
  }
  async listProcesses(): Promise<Process[]> {
    return (await this.call('listProcesses')).map((p) => new Process(this.call, p));
  }
  async getProcess(id: string): Promise<Process | null> {
    const info = await this.call('getProcess', id);
    return info ? new Process(this.call, info) : null;
  }
  async killProcess(id: string, signal?: string, options: { graceMs?: number } = {}): Promise<void> {
    await this.call('killProcess', id, signal, options.graceMs);
  }
  killAllProcesses(): Promise<number> {
    return this.call('killAllProcesses');
  }
  getProcessLogs(id: string): Promise<ProcessLogs> {
    return this.call('getProcessLogs', id);
  }
  /** SSE of the process's output (event: log | truncated | exit), resumable from an event id. */
  streamProcessLogs(id: string, options?: { lastEventId?: string }): Promise<ReadableStream> {
    return this.call('streamProcessLogs', id, options?.lastEventId);
  }
  writeFile(path: string, content: string | Uint8Array, options?: { encoding?: 'utf-8' | 'base64' }) {
    return this.call('writeFile', path, content, options?.encoding);
  }
  readFile(path: string, options?: { encoding?: 'utf-8' | 'base64' }) {
    return this.call('readFile', path, options?.encoding);
  }
  mkdir(path: string, options?: { recursive?: boolean }) {
    return this.call('mkdir', path, options);
  }
  checkout(repoUrl: string, options?: { branch?: string; targetDir?: string }) {
    return this.call('checkout', repoUrl, options);
  }
  getDetectedPorts(): Promise<DetectedPort[]> {
    return this.call('detectedPorts');
  }

  /** A preview URL for a port: `exposePort(8000)`, `exposePort(8000, 'web')`, or with options. */
  exposePort(port: number, options?: ExposePortOptions | string): Promise<ExposedPort> {
    return this.call('exposePort', port, options);
  }
  async unexposePort(port: number): Promise<void> {
    await this.call('unexposePort', port);
  }
  /** Alias of unexposePort, as older documents name it. */
  closePort(port: number): Promise<void> {
    return this.unexposePort(port);
  }
  getExposedPorts(): Promise<{ ports: ExposedPort[]; count: number }> {
    return this.call('getExposedPorts');
  }

  /** A WebSocket straight to a port of the sandbox, without a preview URL (same port rules). */
  async wsConnect(request: Request, port: number): Promise<Response> {
    checkUserPort(port);
    const stub = this.ns.get(this.ns.idFromName(this.id));
    return stub.fetch(withRoute(request, { kind: 'ws', port }));
  }
}

/** A handle on the sandbox named `id`; created on first use. Throws on ids SPEC 2.1 refuses. */
export function getSandbox(ns: DurableObjectNamespace<Sandbox>, id: string, options: SandboxOptions = {}): SandboxHandle {
  const { enableInternet, instanceType, resources } = options;
  const createOptions: SandboxCreateOptions = {
    ...(enableInternet === undefined ? {} : { enableInternet }),
    ...(instanceType === undefined ? {} : { instanceType }),
    ...(resources === undefined ? {} : { resources }),
  };
  return new SandboxHandle(ns, checkSandboxId(id, options.normalizeId ?? false), createOptions);
}
