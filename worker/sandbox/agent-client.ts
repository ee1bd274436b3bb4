/**
 * Typed calls from the Durable Object to its agent (worker/protocol/agent.ts). The fetcher is
 * `ctx.container.getTcpPort(3000)`, whichever seam provides it.
 */
import {
  ErrorCode,
  SandboxError,
  errorFromResponse,
  type CheckoutRequest,
  type DetectedPort,
  type ExecRequest,
  type ExecResult,
  type ListenerInfo,
  type ProcessInfo,
  type ProcessLogs,
  type ResourceUsage,
  type StartRequest,
  type TunnelInfo,
  type WaitForLogRequest,
  type WaitForLogResult,
  type WaitForPortRequest,
} from '../protocol/index';

export interface PortFetcher {
  fetch(input: RequestInfo | URL, init?: RequestInit | Request): Promise<Response>;
}

const AGENT_ORIGIN = 'http://agent';

export class AgentClient {
  constructor(private readonly port: () => PortFetcher) {}

  /** Raw request, for streams. Errors from the agent become SandboxErrors. */
  async request(method: string, path: string, init: { body?: BodyInit | null; headers?: HeadersInit } = {}): Promise<Response> {
    let res: Response;
    try {
      res = await this.port().fetch(`${AGENT_ORIGIN}${path}`, { method, body: init.body ?? null, headers: init.headers });
    } catch (err) {
      throw new SandboxError(ErrorCode.AGENT_UNREACHABLE, `The sandbox agent did not answer: ${(err as Error).message}`);
    }
    if (!res.ok) throw await errorFromResponse(res, 'The sandbox agent');
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, {
      body: body === undefined ? null : JSON.stringify(body),
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    });
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  exec(req: ExecRequest): Promise<ExecResult> {
    return this.json('POST', '/exec', req);
  }
  startProcess(req: StartRequest): Promise<ProcessInfo> {
    return this.json('POST', '/processes', req);
  }
  async listProcesses(): Promise<ProcessInfo[]> {
    return (await this.json<{ processes: ProcessInfo[] }>('GET', '/processes')).processes;
  }
  getProcess(id: string): Promise<ProcessInfo> {
    return this.json('GET', `/processes/${encodeURIComponent(id)}`);
  }
  async killProcess(id: string, signal: string, graceMs?: number): Promise<void> {
    const grace = graceMs === undefined ? '' : `&graceMs=${graceMs}`;
    await this.json('DELETE', `/processes/${encodeURIComponent(id)}?signal=${encodeURIComponent(signal)}${grace}`);
  }
  async killAllProcesses(): Promise<number> {
    return (await this.json<{ killed: number }>('DELETE', '/processes')).killed;
  }
  getProcessLogs(id: string): Promise<ProcessLogs> {
    return this.json('GET', `/processes/${encodeURIComponent(id)}/logs`);
  }
  streamProcessLogs(id: string, lastEventId?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (lastEventId) headers['last-event-id'] = lastEventId;
    return this.request('GET', `/processes/${encodeURIComponent(id)}/logs/stream`, { headers });
  }
  waitForPort(id: string, req: WaitForPortRequest): Promise<{ ready: true }> {
    return this.json('POST', `/processes/${encodeURIComponent(id)}/wait-for-port`, req);
  }
  waitForLog(id: string, req: WaitForLogRequest): Promise<WaitForLogResult> {
    return this.json('POST', `/processes/${encodeURIComponent(id)}/wait-for-log`, req);
  }
  waitForExit(id: string, timeout?: number): Promise<{ exitCode: number | null }> {
    return this.json('POST', `/processes/${encodeURIComponent(id)}/wait-for-exit`, { timeout });
  }
  writeFile(path: string, content: Uint8Array | ReadableStream, encoding?: string): Promise<{ path: string; size: number }> {
    const q = new URLSearchParams({ path });
    if (encoding) q.set('encoding', encoding);
    return this.request('PUT', `/files?${q}`, { body: content as BodyInit, headers: { 'content-type': 'application/octet-stream' } }).then((r) => r.json());
  }
  readFile(path: string): Promise<Response> {
    return this.request('GET', `/files?${new URLSearchParams({ path })}`);
  }
  mkdir(path: string, recursive: boolean): Promise<{ path: string }> {
    return this.json('POST', '/mkdir', { path, recursive });
  }
  checkout(req: CheckoutRequest): Promise<{ path: string }> {
    return this.json('POST', '/checkout', req);
  }
  async detectedPorts(): Promise<DetectedPort[]> {
    return (await this.json<{ ports: DetectedPort[] }>('GET', '/ports/detected')).ports;
  }
  listener(port: number): Promise<ListenerInfo> {
    return this.json('GET', `/ports/${port}/listener`);
  }
  tunnel(port: number): Promise<TunnelInfo> {
    return this.json('PUT', `/tunnels/${port}`);
  }
  /** What the sandbox uses now, from its cgroup. */
  resources(): Promise<ResourceUsage> {
    return this.json<ResourceUsage>('GET', '/resources');
  }

  async tunnels(): Promise<TunnelInfo[]> {
    return (await this.json<{ tunnels: TunnelInfo[] }>('GET', '/tunnels')).tunnels;
  }
  async destroyTunnel(port: number): Promise<void> {
    await this.json('DELETE', `/tunnels/${port}`);
  }
  events(lastEventId?: string): Promise<Response> {
    return this.request('GET', '/events', { headers: lastEventId ? { 'last-event-id': lastEventId } : {} });
  }
}
