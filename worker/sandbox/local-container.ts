/**
 * The local stand-in for the platform's `ctx.container`, used only when the platform gives none
 * and LOCAL_CONTAINER_HOST is configured. It has the same shape (running, start, monitor,
 * destroy, signal, getTcpPort(port).fetch) and asks the local container host — a Node process
 * beside `wrangler dev` — to run one agent process per sandbox. Local sandboxes share the host's
 * network, so a user port N is localhost:N (the service sees `Host: localhost:N`, as in a
 * container); the agent's own port 3000 is a loopback port the host picked for it.
 *
 * In a container the proxy reaches a service from outside its loopback, so a service bound to
 * 127.0.0.1 only is unreachable there. With `bindCheckAddress` (another loopback address, such as
 * 127.0.0.2 on Linux) the stand-in checks that a port answers on that address first, so such a
 * service fails locally the same way it would on Cloudflare.
 *
 * Both local doors are locked (container/local-door.ts): every call to the host carries the host's
 * secret, and every call to the agent the agent's own secret, which the host hands out with the
 * agent's port.
 */
import { connect } from 'cloudflare:sockets';
import { CONTROL_PORT, LOCAL_SECRET_HEADER, type LocalAgentState, type SandboxResources } from '../protocol/index';

/** The part of the platform's container handle this product uses. */
export interface ContainerSeam {
  readonly running: boolean;
  start(options?: { env?: Record<string, string>; entrypoint?: string[]; enableInternet?: boolean }): void;
  monitor(): Promise<void>;
  destroy(error?: unknown): Promise<void>;
  signal(signo: number): void;
  getTcpPort(port: number): { fetch(input: RequestInfo | URL, init?: RequestInit | Request): Promise<Response> };
}

/** The message @cloudflare/containers looks for to keep waiting while a port is not yet open. */
const NOT_LISTENING = 'the container is not listening';

export interface LocalContainerOptions {
  hostUrl: string;
  hostSecret: string;
  /** The key used when start() names no SANDBOX_ID. */
  fallbackKey: string;
  bindCheckAddress?: string;
}

export class LocalContainer implements ContainerSeam {
  private agentPort: Promise<number> | null = null;
  private agentSecret = '';
  /** Isolated: the host's relay for each port inside (the agent's comes with its state). */
  private readonly relays = new Map<number, Promise<number>>();
  /** What the sandbox may use, handed to the host at each start (the Durable Object sets it). */
  resources: SandboxResources | null = null;
  /** How the host runs this sandbox; learnt when it starts (isolated sandboxes need the relay). */
  isolation: 'namespaces' | 'none' | 'unknown' = 'unknown';
  private exited: Promise<void> | null = null;
  private key: string | null = null;
  private agentPid: number | null = null;
  /** Counts starts: what an earlier agent's exit reports must not stop the one started after it. */
  private generation = 0;
  running = false;

  /** Ports recently seen open on the bind-check address, and until when that holds. */
  private readonly reachable = new Map<number, number>();

  private readonly hostUrl: string;
  private readonly hostSecret: string;
  private readonly fallbackKey: string;
  private readonly bindCheckAddress: string | undefined;

  constructor(options: LocalContainerOptions) {
    this.hostUrl = options.hostUrl;
    this.hostSecret = options.hostSecret;
    this.fallbackKey = options.fallbackKey;
    this.bindCheckAddress = options.bindCheckAddress;
  }

  start(options?: { env?: Record<string, string>; enableInternet?: boolean }): void {
    if (this.running) throw new Error('start() cannot be called on a container that is already running');
    const key = options?.env?.SANDBOX_ID ?? this.key ?? this.fallbackKey;
    this.key = key;
    this.running = true;
    this.exited = null;
    const generation = ++this.generation;
    const started = this.host(`/containers/${encodeURIComponent(key)}/start`, {
      method: 'POST',
      body: JSON.stringify({ env: options?.env ?? {}, internet: options?.enableInternet ?? true, ...(this.resources ? { resources: this.resources } : {}) }),
    }).then(async (res) => {
      if (!res.ok) throw new Error(`local container host could not start the agent: ${await res.text()}`);
      const state = (await res.json()) as LocalAgentState;
      if (!state.port) throw new Error('local container host started the agent but named no port');
      this.adopt(state);
      return state.port;
    });
    started.catch(() => {
      if (generation === this.generation) this.running = false;
    });
    this.agentPort = started;
  }

  /**
   * Takes over an agent that kept running while the Durable Object restarted (the host keeps its
   * agents across Worker reloads). Never starts one.
   */
  async attach(key: string): Promise<void> {
    this.key = key;
    const res = await this.host(`/containers/${encodeURIComponent(key)}`).catch(() => null);
    if (!res?.ok) return;
    const state = (await res.json()) as LocalAgentState;
    if (!state.running || !state.port || this.running) return;
    this.adopt(state);
    this.running = true;
    this.exited = null;
    this.generation++;
    this.agentPort = Promise.resolve(state.port);
  }

  monitor(): Promise<void> {
    if (!this.exited) {
      const starting = this.agentPort ?? Promise.reject(new Error('container was never started'));
      const generation = this.generation;
      const stopped = () => {
        if (generation === this.generation) this.markStopped();
      };
      this.exited = starting
        // The pid makes the answer right even when the agent died before this request arrived.
        .then(() => this.host(`/containers/${encodeURIComponent(this.key!)}/wait${this.agentPid ? `?pid=${this.agentPid}` : ''}`))
        .then(
          async (res) => {
            const result = res.ok ? ((await res.json()) as { exitCode: number | null; signal: string | null }) : null;
            stopped();
            const code = result?.exitCode ?? (result?.signal ? 137 : 0);
            if (code !== 0) throw new Error(`Container exited with unexpected exit code: ${code}`);
          },
          (err) => {
            stopped();
            throw err;
          },
        );
    }
    return this.exited;
  }

  async destroy(): Promise<void> {
    const key = this.key ?? this.fallbackKey;
    await this.host(`/containers/${encodeURIComponent(key)}?purge=1`, { method: 'DELETE' }).catch(() => {});
    this.markStopped();
  }

  signal(signo: number): void {
    if (!this.key) return;
    void this.host(`/containers/${encodeURIComponent(this.key)}/signal`, {
      method: 'POST',
      body: JSON.stringify({ signal: signo }),
    }).catch(() => {});
  }

  getTcpPort(port: number) {
    return {
      fetch: async (input: RequestInfo | URL, init?: RequestInit | Request): Promise<Response> => {
        const target = await this.targetFor(port);
        const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        // Path and query of the given URL, without parsing it (this is the preview hot path).
        const pathStart = raw.indexOf('/', raw.indexOf('//') + 2);
        const path = pathStart < 0 ? '/' : raw.slice(pathStart);
        // A Request passed as init lends its method, headers and body without being copied.
        const source = init ?? (input instanceof Request ? input : undefined);
        try {
          if (this.isolation === 'namespaces') return await this.viaRelay(port, path, source);
          if (port === CONTROL_PORT) return await fetch(this.toAgent(`http://127.0.0.1:${target}${path}`, source));
          await this.checkReachable(port);
          return await fetch(`http://localhost:${target}${path}`, source);
        } catch (err) {
          if ((err as Error).message.startsWith(NOT_LISTENING)) throw err;
          // Connection refused and friends: the same signal the platform gives for a closed port.
          throw new Error(`${NOT_LISTENING} on port ${port}: ${(err as Error).message}`, { cause: err });
        }
      },
    };
  }

  /** A control request with the agent's secret added (only the agent's port ever gets it). */
  private toAgent(url: string, source: RequestInit | Request | undefined): Request {
    const req = new Request(url, source);
    req.headers.set(LOCAL_SECRET_HEADER, this.agentSecret);
    return req;
  }

  /**
   * An isolated sandbox's port, through the host's relay for it (one loopback port per sandbox
   * port), with the sandbox's secret. The service inside still sees `Host: localhost:{port}`.
   */
  private async viaRelay(port: number, path: string, source: RequestInit | Request | undefined): Promise<Response> {
    const url = `http://127.0.0.1:${await this.relayFor(port)}${path}`;
    // The preview path hands over a plain init with a Headers of its own: add to it, no copy.
    if (source && !(source instanceof Request) && source.headers instanceof Headers) {
      source.headers.set(LOCAL_SECRET_HEADER, this.agentSecret);
      return fetch(url, source);
    }
    const req = new Request(url, source);
    req.headers.set(LOCAL_SECRET_HEADER, this.agentSecret);
    return fetch(req);
  }

  private relayFor(port: number): Promise<number> {
    let relay = this.relays.get(port);
    if (!relay) {
      relay = this.host(`/containers/${encodeURIComponent(this.key!)}/ports/${port}/relay`).then(async (res) => {
        if (!res.ok) throw new Error(`no relay to port ${port}: ${await res.text()}`);
        return ((await res.json()) as { port: number }).port;
      });
      relay.catch(() => this.relays.delete(port));
      this.relays.set(port, relay);
    }
    return relay;
  }

  /**
   * A plain sandbox shares this machine's ports, so before a port is proxied: it must answer from
   * outside loopback (the bind check), and its listener must be this sandbox's, not another
   * sandbox's or program's (the agent can tell).
   */
  private async checkReachable(port: number): Promise<void> {
    const until = this.reachable.get(port);
    if (until !== undefined && until > Date.now()) return;
    this.reachable.delete(port);
    if (this.bindCheckAddress) {
      try {
        const socket = connect({ hostname: this.bindCheckAddress, port });
        await socket.opened;
        await socket.close();
      } catch {
        throw new Error(`${NOT_LISTENING} on port ${port} from outside the sandbox's loopback`);
      }
    }
    if (this.running && this.agentPort) {
      const agentPort = await this.agentPort;
      const res = await fetch(this.toAgent(`http://127.0.0.1:${agentPort}/ports/${port}/listener`, undefined));
      const info = res.ok ? ((await res.json()) as { owner?: string }) : null;
      if (info?.owner === 'other') throw new Error(`${NOT_LISTENING} on port ${port}: it is held by another program`);
    }
    // Only successes are remembered, briefly: a failing port is checked again on every request.
    this.reachable.set(port, Date.now() + 2000);
  }

  /**
   * The loopback port to call for `port`. A plain sandbox's services are on this machine's ports
   * (no wait: the preview hot path); the agent, and everything in an isolated sandbox, can only
   * be reached once the agent has started.
   */
  private async targetFor(port: number): Promise<number> {
    if (port !== CONTROL_PORT && this.isolation !== 'namespaces') return port;
    if (!this.running || !this.agentPort) throw new Error(`${NOT_LISTENING}: the agent is not running`);
    try {
      return await this.agentPort;
    } catch (err) {
      throw new Error(`${NOT_LISTENING}: ${(err as Error).message}`, { cause: err });
    }
  }

  private adopt(state: LocalAgentState): void {
    this.agentPid = state.pid ?? null;
    this.agentSecret = state.secret ?? '';
    this.relays.clear();
    if (state.relayPort) this.relays.set(CONTROL_PORT, Promise.resolve(state.relayPort));
    if (state.isolation) this.isolation = state.isolation;
  }

  private markStopped(): void {
    this.running = false;
    this.agentPort = null;
    this.relays.clear();
  }

  private host(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`${this.hostUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', [LOCAL_SECRET_HEADER]: this.hostSecret },
    });
  }
}
