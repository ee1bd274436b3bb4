/**
 * The typed control-API client (SPEC 3). Plain fetch with the bearer token; every non-2xx answer
 * becomes a SandboxError rebuilt from the `{ error, code }` body, so callers switch on codes.
 */
import {
  API_PREFIX,
  ErrorCode,
  SandboxError,
  errorFromResponse,
  type ExposePortOptions,
  type ExposedPort,
  type HealthResponse,
  type SandboxState,
  type SandboxSummary,
  type TrafficEntry,
  type TrafficList,
  type TunnelInfo,
} from '../../worker/protocol/index';
import type { CreateSandboxRequest, DetectedPort, ProcessInfo, ProcessLogs, StartProcessOptions, WaitForPortOptions } from '../../worker/protocol/index';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  /** The Worker's origin, e.g. http://127.0.0.1:8787 (a trailing slash or /api/v1 is tolerated). */
  url: string;
  token: string;
  fetch?: FetchLike;
}

export interface ExposeRequest extends ExposePortOptions {
  port: number;
}

/** Normalises what a user types as the Worker URL to its origin (no trailing slash, no /api/v1). */
export function normaliseWorkerUrl(raw: string): string {
  let url = raw.trim();
  if (!/^https?:\/\//i.test(url)) url = `http://${url}`;
  const parsed = new URL(url);
  let path = parsed.pathname.replace(/\/+$/, '');
  if (path.endsWith(API_PREFIX)) path = path.slice(0, -API_PREFIX.length);
  return `${parsed.protocol}//${parsed.host}${path}`;
}

export class ApiClient {
  readonly url: string;
  private readonly token: string;
  private readonly fetchImpl: FetchLike;

  constructor(options: ApiClientOptions) {
    this.url = normaliseWorkerUrl(options.url);
    this.token = options.token;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  }

  health(): Promise<HealthResponse> {
    return this.json('GET', '/health');
  }

  async listSandboxes(): Promise<SandboxSummary[]> {
    return (await this.json<{ sandboxes: SandboxSummary[] }>('GET', '/sandboxes')).sandboxes;
  }

  /** `options`: the instance type or sizes it is created with (and keeps). */
  createSandbox(id: string, options: Pick<CreateSandboxRequest, 'normalizeId' | 'instanceType' | 'resources'> = {}): Promise<SandboxState> {
    return this.json('POST', '/sandboxes', { id, ...options });
  }

  getSandbox(id: string): Promise<SandboxState> {
    return this.json('GET', `/sandboxes/${enc(id)}`);
  }

  async destroySandbox(id: string): Promise<void> {
    await this.json('DELETE', `/sandboxes/${enc(id)}`);
  }

  startProcess(sandboxId: string, command: string, options: StartProcessOptions = {}): Promise<ProcessInfo> {
    return this.json('POST', `/sandboxes/${enc(sandboxId)}/processes`, { command, ...options });
  }

  async listProcesses(sandboxId: string): Promise<ProcessInfo[]> {
    return (await this.json<{ processes: ProcessInfo[] }>('GET', `/sandboxes/${enc(sandboxId)}/processes`)).processes;
  }

  async killProcess(sandboxId: string, processId: string, signal?: string): Promise<void> {
    const query = signal ? `?signal=${enc(signal)}` : '';
    await this.json('DELETE', `/sandboxes/${enc(sandboxId)}/processes/${enc(processId)}${query}`);
  }

  getLogs(sandboxId: string, processId: string): Promise<ProcessLogs> {
    return this.json('GET', `/sandboxes/${enc(sandboxId)}/processes/${enc(processId)}/logs`);
  }

  async waitForPort(sandboxId: string, processId: string, port: number, options: WaitForPortOptions = {}): Promise<void> {
    await this.json('POST', `/sandboxes/${enc(sandboxId)}/processes/${enc(processId)}/wait-for-port`, { port, ...options });
  }

  exposePort(sandboxId: string, request: ExposeRequest): Promise<ExposedPort> {
    return this.json('POST', `/sandboxes/${enc(sandboxId)}/ports`, request);
  }

  async listPorts(sandboxId: string): Promise<ExposedPort[]> {
    return (await this.json<{ ports: ExposedPort[] }>('GET', `/sandboxes/${enc(sandboxId)}/ports`)).ports;
  }

  async unexposePort(sandboxId: string, port: number): Promise<void> {
    await this.json('DELETE', `/sandboxes/${enc(sandboxId)}/ports/${port}`);
  }

  async detectedPorts(sandboxId: string): Promise<DetectedPort[]> {
    return (await this.json<{ ports: DetectedPort[] }>('GET', `/sandboxes/${enc(sandboxId)}/ports/detected`)).ports;
  }

  /** A single-use link that opens a private preview where no header can be sent (Simple Browser). */
  async ticket(sandboxId: string, port: number): Promise<string> {
    return (await this.json<{ url: string }>('POST', `/sandboxes/${enc(sandboxId)}/ports/${port}/ticket`)).url;
  }

  createTunnel(sandboxId: string, port: number): Promise<TunnelInfo> {
    return this.json('PUT', `/sandboxes/${enc(sandboxId)}/tunnels/${port}`);
  }

  async listTunnels(sandboxId: string): Promise<TunnelInfo[]> {
    return (await this.json<{ tunnels: TunnelInfo[] }>('GET', `/sandboxes/${enc(sandboxId)}/tunnels`)).tunnels;
  }

  async destroyTunnel(sandboxId: string, port: number): Promise<void> {
    await this.json('DELETE', `/sandboxes/${enc(sandboxId)}/tunnels/${port}`);
  }

  /** The traffic inspector's records of an exposed port (newest first), and where its stream stands. */
  listRequests(sandboxId: string, port: number): Promise<TrafficList> {
    return this.json('GET', `${this.requestsPath(sandboxId, port)}`);
  }

  getRequest(sandboxId: string, port: number, id: number): Promise<TrafficEntry> {
    return this.json('GET', `${this.requestsPath(sandboxId, port)}/${id}`);
  }

  async clearRequests(sandboxId: string, port: number): Promise<void> {
    await this.json('DELETE', this.requestsPath(sandboxId, port));
  }

  /** Sends a recorded request again; `credentials` restores what was redacted. Answers the new entry. */
  replayRequest(sandboxId: string, port: number, id: number, credentials: { authorization?: string; cookie?: string } = {}): Promise<TrafficEntry> {
    return this.json('POST', `${this.requestsPath(sandboxId, port)}/${id}/replay`, credentials);
  }

  requestsPath(sandboxId: string, port: number): string {
    return `/sandboxes/${enc(sandboxId)}/ports/${port}/requests`;
  }

  /** Opens an SSE stream under /api/v1 (events, a process's log stream, a port's requests); the caller reads the body. */
  async openStream(path: string, lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const headers: Record<string, string> = { ...this.auth(), accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await this.send(path, { method: 'GET', headers, signal });
    if (!res.ok) throw await errorFrom(res, 'GET', path);
    if (!res.body) throw new SandboxError(ErrorCode.INTERNAL_ERROR, `GET ${path} answered without a body`);
    return res.body;
  }

  logStreamPath(sandboxId: string, processId: string): string {
    return `/sandboxes/${enc(sandboxId)}/processes/${enc(processId)}/logs/stream`;
  }

  private auth(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { ...this.auth(), accept: 'application/json' };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await this.send(path, init);
    if (!res.ok) throw await errorFrom(res, method, path);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(`${this.url}${API_PREFIX}${path}`, init);
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
      const detail = cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
      throw new WorkerUnreachable(`Cannot reach the Worker at ${this.url} (${detail})`);
    }
  }
}

function errorFrom(res: Response, method: string, path: string): Promise<SandboxError> {
  return errorFromResponse(res, `${method} ${API_PREFIX}${path}`);
}

/** The Worker did not answer at all (not running, wrong address): the connection's state says so, not a toast. */
export class WorkerUnreachable extends SandboxError {
  constructor(message: string) {
    super(ErrorCode.AGENT_UNREACHABLE, message);
    this.name = 'WorkerUnreachable';
  }
}

/** True when the error says the route itself does not exist (the Worker is older than the client). */
export function isMissingRoute(err: unknown): boolean {
  return err instanceof SandboxError && err.code === ErrorCode.NOT_FOUND && /route/i.test(err.message);
}

function enc(value: string): string {
  return encodeURIComponent(value);
}
