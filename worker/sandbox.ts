/**
 * The Sandbox Durable Object: one per sandbox id. A thin shell over @cloudflare/containers'
 * Container — it holds the sandbox's identity, forwards operations to its agent, and turns the
 * agent's events and the container's lifecycle into control-API events. It reaches the container
 * only through `ctx.container` (the platform's, or the local stand-in installed before super()).
 */
import { Container } from '@cloudflare/containers';
import { AgentClient } from './agent-client';
import type { Env } from './env';
import { installLocalContainer } from './local-seam';
import { capture, type Outcome } from './outcome';
import { publishEvent, registryStub } from './registry-client';
import { AgentEventPump } from './agent-events';
import {
  CONTROL_PORT,
  ErrorCode,
  SandboxError,
  type ControlEventBody,
  type DetectedPort,
  type ProcessInfo,
  type SandboxState,
  type SandboxStatus,
} from './protocol/index';
import { sandboxOps, type SandboxOps } from './sandbox-ops';

const ID_KEY = 'sandboxId';
const CREATED_KEY = 'createdAt';

export class Sandbox extends Container<Env> {
  override defaultPort = CONTROL_PORT;
  override sleepAfter = '30m';

  readonly agent: AgentClient;
  private sandboxId: string | null;
  private agentReady = false;
  /** Running processes and listening ports as the agent last reported them. */
  readonly running = new Map<string, ProcessInfo>();
  readonly detected = new Map<number, DetectedPort>();
  private pump: AgentEventPump | null = null;

  constructor(ctx: DurableObjectState<{}>, env: Env) {
    installLocalContainer(ctx, env);
    super(ctx, env);
    if (env.SANDBOX_SLEEP_AFTER) this.sleepAfter = env.SANDBOX_SLEEP_AFTER;
    this.sandboxId = (ctx.storage.kv.get(ID_KEY) as string | undefined) ?? null;
    this.agent = new AgentClient(() => this.ctx.container!.getTcpPort(CONTROL_PORT));
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
  ): Promise<Outcome<unknown>> {
    return capture(async () => {
      if (op !== 'create' && !this.isCreated()) {
        if (!autoCreate) throw new SandboxError(ErrorCode.SANDBOX_NOT_FOUND, `Sandbox '${sandboxId}' does not exist`);
        await this.register(sandboxId);
      }
      if (!this.sandboxId) this.remember(sandboxId);
      this.renewActivityTimeout();
      const fn = sandboxOps[op] as (self: Sandbox, ...a: unknown[]) => Promise<unknown>;
      return await fn(this, ...(args as unknown[]));
    });
  }

  get id(): string {
    if (!this.sandboxId) throw new SandboxError(ErrorCode.SANDBOX_NOT_FOUND, 'Sandbox has no id yet');
    return this.sandboxId;
  }

  isCreated(): boolean {
    return this.ctx.storage.kv.get(CREATED_KEY) !== undefined;
  }

  private remember(sandboxId: string): void {
    this.sandboxId = sandboxId;
    this.ctx.storage.kv.put(ID_KEY, sandboxId);
  }

  /** Records the sandbox here and in the registry; answers whether it is new. */
  async register(sandboxId: string): Promise<{ created: boolean; createdAt: string }> {
    this.remember(sandboxId);
    const existing = this.ctx.storage.kv.get(CREATED_KEY) as string | undefined;
    if (existing) return { created: false, createdAt: existing };
    const createdAt = new Date().toISOString();
    this.ctx.storage.kv.put(CREATED_KEY, createdAt);
    await registryStub(this.env).register(sandboxId, createdAt);
    await this.publish({ type: 'sandbox-created', sandboxId, status: 'stopped' });
    return { created: true, createdAt };
  }

  createdAt(): string {
    return (this.ctx.storage.kv.get(CREATED_KEY) as string | undefined) ?? new Date(0).toISOString();
  }

  containerRunning(): boolean {
    return this.ctx.container?.running ?? false;
  }

  status(): SandboxStatus {
    return this.ctx.container?.running && this.agentReady ? 'running' : 'stopped';
  }

  /** Starts the agent when it is not running; every operation that needs it calls this first. */
  async ensureAgent(): Promise<AgentClient> {
    if (!this.ctx.container) {
      throw new SandboxError(
        ErrorCode.SANDBOX_NOT_RUNNING,
        'No container runtime: deploy with containers enabled, or run the local stack with `npm start`',
      );
    }
    if (this.ctx.container.running && this.agentReady) return this.agent;
    this.envVars = { SANDBOX_ID: this.id };
    try {
      await this.startAndWaitForPorts(CONTROL_PORT);
    } catch (err) {
      throw new SandboxError(ErrorCode.AGENT_UNREACHABLE, `The sandbox's container did not start: ${(err as Error).message}`);
    }
    return this.agent;
  }

  override async onStart(): Promise<void> {
    if (this.agentReady) return;
    this.agentReady = true;
    await registryStub(this.env).setStatus(this.id, 'running');
    await this.publish({ type: 'sandbox-status', sandboxId: this.id, status: 'running' });
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
    const gone = [...this.running.keys()];
    this.running.clear();
    this.detected.clear();
    if (!this.sandboxId || !this.isCreated()) return;
    await registryStub(this.env).setStatus(this.sandboxId, 'stopped');
    await this.publish({ type: 'sandbox-status', sandboxId: this.sandboxId, status: 'stopped', reason });
    if (gone.length > 0) await this.publish({ type: 'processes-gone', sandboxId: this.sandboxId, processIds: gone });
  }

  async publish(event: ControlEventBody): Promise<void> {
    await publishEvent(this.env, event);
  }

  async snapshot(): Promise<SandboxState> {
    const running = this.status() === 'running';
    const processes = running ? await this.agent.listProcesses().catch(() => []) : [];
    return {
      id: this.id,
      status: this.status(),
      createdAt: this.createdAt(),
      processes,
      ports: [],
      detectedPorts: running ? [...this.detected.values()] : [],
      tunnels: [],
    };
  }

  /** Stops everything and forgets the sandbox. */
  async destroySandbox(): Promise<void> {
    const id = this.id;
    this.pump?.stop();
    this.pump = null;
    this.agentReady = false;
    this.running.clear();
    this.detected.clear();
    if (this.ctx.container) await this.destroy().catch(() => {});
    await registryStub(this.env).unregister(id);
    await this.publish({ type: 'sandbox-destroyed', sandboxId: id });
    // Only this class's keys: the Container library keeps its own tables in the same storage.
    this.ctx.storage.kv.delete(CREATED_KEY);
    this.ctx.storage.kv.delete(ID_KEY);
    this.sandboxId = null;
  }
}
