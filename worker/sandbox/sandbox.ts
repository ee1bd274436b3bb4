/**
 * The Sandbox Durable Object: one per sandbox id. A thin shell over @cloudflare/containers'
 * Container — it holds the sandbox's identity, forwards operations to its agent, and turns the
 * agent's events and the container's lifecycle into control-API events. It reaches the container
 * only through `ctx.container` (the platform's, or the local stand-in installed before super()).
 */
import { Container } from '@cloudflare/containers';
import { AgentClient } from './agent-client';
import type { Env } from '../env';
import { LocalContainer } from './local-container';
import { hostReport, installLocalContainer } from './local-seam';
import { configuredInstanceType, resourcesForNewSandbox } from './sandbox-resources';
import { findPreviewConflict, type PreviewConflict } from './preview-conflicts';
import { capture, type Outcome } from './outcome';
import { publishEvent, registryStub } from '../registry/registry-client';
import { AgentEventPump } from './agent-events';
import { LiveState } from './live-state';
import { ExposureStore } from './exposure-store';
import { TrafficLog } from './traffic/traffic-log';
import { TallyNotices, withTraffic } from './traffic/traffic-tally';
import {
  CONTROL_PORT,
  ErrorCode,
  SandboxError,
  instanceResources,
  type ChosenResources,
  type ControlEventBody,
  type HostCapacity,
  type IsolationKind,
  type SandboxCreateOptions,
  type SandboxState,
  type SandboxStatus,
  type TrafficEntry,
} from '../protocol/index';
import { sandboxOps, type SandboxOps } from './sandbox-ops';
import { exposureUrl, isExpired, listExposed, toExposedPort, type Exposure, type ExposureMap } from './exposures';
import { errorResponse } from '../edge/http';
import { newTicketId, ticketTtlMs } from './preview-auth';
import { readRoute } from '../edge/preview-route';
import { handleDirectWebSocket, handlePreview, replayPreview } from './sandbox-preview';
import { TICKET_PARAM, generateToken, timingSafeEqualStrings } from '../protocol/index';

const ID_KEY = 'sandboxId';
const CREATED_KEY = 'createdAt';
/** Stored (false) only for a sandbox created with enableInternet: false. */
const INTERNET_KEY = 'internet';
/** What the sandbox may use (ChosenResources), chosen when it was created. */
const RESOURCES_KEY = 'resources';

export class Sandbox extends Container<Env> {
  override defaultPort = CONTROL_PORT;
  override sleepAfter = '30m';

  readonly agent: AgentClient;
  private sandboxId: string | null;
  private agentReady = false;
  private attaching = false;
  /** Running processes, listening ports and tunnels as the agent last reported them. */
  readonly live = new LiveState();
  private pump: AgentEventPump | null = null;
  /** Exposures, their run generation and tickets (storage in exposure-store.ts, rules in exposures.ts). */
  readonly store: ExposureStore;
  /** The traffic inspector's records of preview requests, in memory; null when SANDBOX_INSPECT is off. */
  readonly traffic: TrafficLog | null;
  /** The tree's per-port request count, sent as `port-traffic` events. */
  private readonly tallies: TallyNotices;

  constructor(ctx: DurableObjectState<Record<string, never>>, env: Env) {
    installLocalContainer(ctx, env, ctx.storage.kv.get(ID_KEY) as string | undefined);
    super(ctx, env);
    if (env.SANDBOX_SLEEP_AFTER) this.sleepAfter = env.SANDBOX_SLEEP_AFTER;
    this.sandboxId = (ctx.storage.kv.get(ID_KEY) as string | undefined) ?? null;
    this.agent = new AgentClient(() => this.ctx.container!.getTcpPort(CONTROL_PORT));
    this.store = new ExposureStore(ctx.storage.kv);
    this.traffic = env.SANDBOX_INSPECT === 'off' ? null : new TrafficLog(undefined, undefined, (port) => this.tallies.changed(port));
    this.tallies = new TallyNotices(
      (port) => this.traffic?.tally(port),
      async (port, traffic) => {
        if (this.sandboxId && this.exposureFor(port)) await this.publish({ type: 'port-traffic', sandboxId: this.sandboxId, port, traffic });
      },
    );
  }

  /**
   * The RPC entry point. `autoCreate` is true for SDK callers (getSandbox creates on first use)
   * and false for the control API, where an unknown sandbox is a 404.
   */
  async call<K extends keyof SandboxOps>(
    sandboxId: string,
    op: K,
    args: Parameters<SandboxOps[K]>,
    autoCreate: boolean,
    createOptions: SandboxCreateOptions = {},
  ): Promise<Outcome<unknown>> {
    return capture(async () => {
      // Calls that arrive while the sandbox is being destroyed run after it: on nothing (404), or
      // on the sandbox created anew (SDK callers).
      if (this.destroying) await this.destroying.catch(() => {});
      const epoch = this.epoch;
      try {
        return await this.run(sandboxId, op, args, autoCreate, createOptions);
      } catch (err) {
        // A call the destroy overtook (its agent gone mid-call) says so, instead of how it broke.
        if (this.epoch !== epoch && op !== 'destroy') {
          throw new SandboxError(ErrorCode.SANDBOX_DESTROYED, `Sandbox '${sandboxId}' was destroyed while this call ran`);
        }
        throw err;
      }
    });
  }

  private async run<K extends keyof SandboxOps>(
    sandboxId: string,
    op: K,
    args: Parameters<SandboxOps[K]>,
    autoCreate: boolean,
    createOptions: SandboxCreateOptions,
  ): Promise<unknown> {
    if (op !== 'create' && !this.isCreated()) {
      if (!autoCreate) throw new SandboxError(ErrorCode.SANDBOX_NOT_FOUND, `Sandbox '${sandboxId}' does not exist`);
      await this.register(sandboxId, createOptions);
    }
    if (!this.sandboxId) this.remember(sandboxId);
    this.renewActivityTimeout();
    const fn = sandboxOps[op] as (self: Sandbox, ...a: unknown[]) => Promise<unknown>;
    return await fn(this, ...(args as unknown[]));
  }

  get id(): string {
    if (!this.sandboxId) throw new SandboxError(ErrorCode.SANDBOX_NOT_FOUND, 'Sandbox has no id yet');
    return this.sandboxId;
  }

  /**
   * Where a preview's client is, as the service is told: on Cloudflare the edge's CF-Connecting-IP
   * (the edge sets it, whatever a client sent); locally the Worker listens on loopback only, so a
   * client is on this machine, and a client-sent CF-Connecting-IP is nobody's word.
   */
  clientAddress(request: Request): string | null {
    return this.env.LOCAL_CONTAINER_HOST ? '127.0.0.1' : request.headers.get('cf-connecting-ip');
  }

  /** The control API's token: it also opens private previews. */
  get apiToken(): string | undefined {
    return this.env.SANDBOX_API_TOKEN;
  }

  tcpPort(port: number) {
    return this.ctx.container!.getTcpPort(port);
  }

  defaultPreviewHostname(): string | undefined {
    return this.env.PREVIEW_HOSTNAME || undefined;
  }

  hasId(): boolean {
    return this.sandboxId !== null;
  }

  isCreated(): boolean {
    return this.ctx.storage.kv.get(CREATED_KEY) !== undefined;
  }

  private remember(sandboxId: string): void {
    this.sandboxId = sandboxId;
    this.ctx.storage.kv.put(ID_KEY, sandboxId);
  }

  /** Records the sandbox here and in the registry; answers whether it is new. */
  async register(sandboxId: string, options: SandboxCreateOptions = {}): Promise<{ created: boolean; createdAt: string }> {
    this.remember(sandboxId);
    const existing = this.ctx.storage.kv.get(CREATED_KEY) as string | undefined;
    if (existing) return { created: false, createdAt: existing };
    // Refused sizes leave nothing behind: they are checked before anything is recorded.
    const chosen = resourcesForNewSandbox({
      configured: this.env.SANDBOX_INSTANCE_TYPE,
      platform: !(this.ctx.container instanceof LocalContainer),
      options,
      ...(this.ctx.container instanceof LocalContainer ? await this.localCapacity() : {}),
    });
    const createdAt = new Date().toISOString();
    this.ctx.storage.kv.put(RESOURCES_KEY, chosen);
    if (options.enableInternet === false) this.ctx.storage.kv.put(INTERNET_KEY, false);
    this.ctx.storage.kv.put(CREATED_KEY, createdAt);
    await registryStub(this.env).register(sandboxId, createdAt);
    await this.publish({ type: 'sandbox-created', sandboxId, status: 'stopped', instanceType: chosen.instanceType, limits: chosen.resources });
    return { created: true, createdAt };
  }

  private async localCapacity(): Promise<{ capacity?: HostCapacity }> {
    const { capacity } = await hostReport(this.env);
    return capacity ? { capacity } : {};
  }

  /** Its instance type and sizes; a sandbox created before they were recorded has the configured type's. */
  chosenResources(): ChosenResources {
    const stored = this.ctx.storage.kv.get(RESOURCES_KEY) as ChosenResources | undefined;
    if (stored) return stored;
    const type = configuredInstanceType(this.env.SANDBOX_INSTANCE_TYPE);
    return { instanceType: type, resources: instanceResources(type) };
  }

  /** Whether the sandbox has outbound network (chosen when it was created). */
  internet(): boolean {
    return this.ctx.storage.kv.get(INTERNET_KEY) !== false;
  }

  /** How the container that runs this sandbox is isolated, once known. */
  isolation(): IsolationKind | undefined {
    const container = this.ctx.container as unknown as { isolation?: string } | undefined;
    if (!container) return undefined;
    if (!(container instanceof LocalContainer)) return 'container';
    return container.isolation === 'unknown' ? undefined : container.isolation;
  }

  createdAt(): string {
    return (this.ctx.storage.kv.get(CREATED_KEY) as string | undefined) ?? new Date(0).toISOString();
  }

  /** The container's own word: after this object restarts, a container that kept running is running. */
  status(): SandboxStatus {
    return this.ctx.container?.running ? 'running' : 'stopped';
  }

  /**
   * Re-attaches to a container that kept running while this object restarted (the event pump and
   * lifecycle hooks), without ever starting one. Preview traffic calls this.
   */
  async attachIfRunning(): Promise<boolean> {
    if (!this.ctx.container?.running) return false;
    if (!this.agentReady) await this.ensureAgent();
    return true;
  }

  /** Starts the agent when it is not running; every operation that needs it calls this first. */
  async ensureAgent(): Promise<AgentClient> {
    if (!this.ctx.container) {
      throw new SandboxError(ErrorCode.SANDBOX_NOT_RUNNING, 'No container runtime: deploy with containers enabled, or run the local stack with `npm start`');
    }
    if (this.ctx.container.running && this.agentReady) return this.agent;
    // Calls that find the agent down together share one start: a second start racing the first
    // would replace the agent the first one's callers are about to use.
    this.starting ??= this.startAgent().finally(() => (this.starting = null));
    await this.starting;
    return this.agent;
  }

  private starting: Promise<void> | null = null;

  private async startAgent(): Promise<void> {
    if (!this.ctx.container) return;
    // A container that runs already is attached to, not started: its URLs stay as they are.
    this.attaching = this.ctx.container.running;
    this.envVars = { SANDBOX_ID: this.id };
    this.enableInternet = this.internet();
    // The local stand-in hands the sizes to its host; the platform sizes a container by its class.
    if (this.ctx.container instanceof LocalContainer) this.ctx.container.resources = this.chosenResources().resources;
    try {
      await this.startAndWaitForPorts(CONTROL_PORT);
    } catch (err) {
      throw new SandboxError(ErrorCode.AGENT_UNREACHABLE, `The sandbox's container did not start: ${(err as Error).message}`);
    }
  }

  override async onStart(): Promise<void> {
    if (this.agentReady) return;
    this.agentReady = true;
    const rotated = this.attaching ? [] : this.store.startRun(() => generateToken());
    this.attaching = false;
    await registryStub(this.env).setStatus(this.id, 'running');
    await this.publish({ type: 'sandbox-status', sandboxId: this.id, status: 'running' });
    for (const e of rotated) await this.publish({ type: 'port-exposed', sandboxId: this.id, port: withTraffic(toExposedPort(e, this.id), this.traffic) });
    this.pump?.stop();
    this.pump = new AgentEventPump(this);
    this.pump.start();
  }

  override async onStop(): Promise<void> {
    await this.handleStopped('the container stopped');
  }

  override onError(error: unknown): void {
    console.error(`sandbox ${this.sandboxId}: container error:`, error);
  }

  /** Idempotent: the container's monitor and the event pump may both notice the same stop. */
  async handleStopped(reason: string): Promise<void> {
    if (!this.agentReady) return;
    this.agentReady = false;
    this.pump?.stop();
    this.pump = null;
    const { processIds: gone, tunnelPorts: tunnelsGone } = this.live.clear();
    if (!this.sandboxId || !this.isCreated()) return;
    await registryStub(this.env).setStatus(this.sandboxId, 'stopped');
    await this.publish({ type: 'sandbox-status', sandboxId: this.sandboxId, status: 'stopped', reason });
    if (gone.length > 0) await this.publish({ type: 'processes-gone', sandboxId: this.sandboxId, processIds: gone });
    for (const port of tunnelsGone) await this.publish({ type: 'tunnel-down', sandboxId: this.sandboxId, port });
  }

  async publish(event: ControlEventBody): Promise<void> {
    await publishEvent(this.env, event);
  }

  async snapshot(): Promise<SandboxState> {
    const running = await this.attachIfRunning().catch(() => false);
    const [processes, resources] = running ? await Promise.all([this.agent.listProcesses().catch(() => []), this.agent.resources().catch(() => undefined)]) : [[], undefined];
    const isolation = this.isolation();
    const { instanceType, resources: limits } = this.chosenResources();
    return {
      id: this.id,
      status: this.status(),
      createdAt: this.createdAt(),
      ...(isolation ? { isolation } : {}),
      internet: this.internet(),
      instanceType,
      limits,
      ...(resources ? { resources } : {}),
      processes,
      ports: this.exposedPorts(),
      detectedPorts: running ? [...this.live.detected.values()] : [],
      tunnels: running ? [...this.live.tunnels.values()].sort((a, b) => a.port - b.port) : [],
    };
  }

  /** Counts destroys: a call that started before one knows it was overtaken. */
  private epoch = 0;
  private destroying: Promise<void> | null = null;

  /** Stops everything and forgets the sandbox; a start under way finishes first, then is undone. */
  async destroySandbox(): Promise<void> {
    this.epoch++;
    this.destroying = (this.starting ?? Promise.resolve()).catch(() => {}).then(() => this.tearDown());
    try {
      await this.destroying;
    } finally {
      this.destroying = null;
    }
  }

  private async tearDown(): Promise<void> {
    const id = this.id;
    this.pump?.stop();
    this.pump = null;
    this.agentReady = false;
    this.live.clear();
    if (this.ctx.container) await this.destroy().catch(() => {});
    await registryStub(this.env).unregister(id);
    await this.publish({ type: 'sandbox-destroyed', sandboxId: id });
    // Only this class's keys: the Container library keeps its own tables in the same storage.
    this.ctx.storage.kv.delete(CREATED_KEY);
    this.ctx.storage.kv.delete(ID_KEY);
    this.ctx.storage.kv.delete(INTERNET_KEY);
    this.ctx.storage.kv.delete(RESOURCES_KEY);
    this.store.clear();
    this.traffic?.dropAll();
    this.sandboxId = null;
  }

  // ---- exposures (rules in exposures.ts, storage in exposure-store.ts) ----

  /** The generation a token minted now belongs to: this run, or the next one while stopped. */
  mintGeneration(): number {
    return this.status() === 'running' ? this.store.generation() : this.store.generation() + 1;
  }

  /** A copy of the exposures, for callers that change them and save. */
  exposures(): ExposureMap {
    return this.store.all();
  }

  saveExposures(map: ExposureMap): void {
    this.store.save(map);
  }

  exposureFor(port: number): Exposure | undefined {
    return this.store.get(port);
  }

  exposedPorts() {
    return listExposed(this.store.all(), this.id, Date.now()).map((p) => withTraffic(p, this.traffic));
  }

  /** Ends an exposure when its ttl is up (called by the Container library's scheduler). */
  async expireExposure(payload: { port: number; token: string }): Promise<void> {
    const now = Date.now();
    const removed = this.store.removeIf(payload.port, (e) => e.token !== payload.token || !isExpired(e, now));
    if (removed) this.traffic?.drop(payload.port);
    if (removed && this.sandboxId) await this.publish({ type: 'port-expired', sandboxId: this.sandboxId, port: payload.port });
  }

  /** A single-use link for a private preview, valid for a minute. */
  createTicket(e: Exposure): { url: string; expiresAt: string } {
    const id = newTicketId();
    const expiresAt = this.store.createTicket(e, id, Date.now(), ticketTtlMs(this.env.PREVIEW_TICKET_TTL_MS));
    return { url: `${exposureUrl(e, this.id)}?${TICKET_PARAM}=${id}`, expiresAt: new Date(expiresAt).toISOString() };
  }

  consumeTicket(id: string, e: Exposure): boolean {
    return this.store.consumeTicket(id, e, Date.now());
  }

  /** Another sandbox's exposure that this one's `{port}-{id}-{token}` label would also name. */
  previewConflict(port: number, token: string): Promise<PreviewConflict | null> {
    return findPreviewConflict(this.env, this.id, port, token);
  }

  /** The traffic inspector's Replay: a recorded request through the preview path again. */
  replayRecorded(exposure: Exposure, request: Request, replayOf: number): Promise<{ response: Response; kept: Promise<TrafficEntry> }> {
    return replayPreview(this, exposure, request, replayOf);
  }

  /** RPC from the Worker's proxy: does this sandbox serve `{port}-{id}-{token}`? */
  previewMatches(port: number, token: string): boolean {
    const e = this.exposureFor(port);
    return !!e && !isExpired(e, Date.now()) && timingSafeEqualStrings(e.token, token);
  }

  /**
   * Preview traffic (routed by the Worker, checked here against the host it names) and wsConnect
   * (its port in the route header) arrive here; nothing else does.
   */
  override async fetch(request: Request): Promise<Response> {
    const route = readRoute(request);
    try {
      if (route?.kind === 'ws') return await handleDirectWebSocket(this, request, route.port);
      return await handlePreview(this, request);
    } catch (err) {
      return errorResponse(err);
    }
  }
}
