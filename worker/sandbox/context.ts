/**
 * What the Sandbox Durable Object's helpers may use of it: one narrow interface per helper, so
 * sandbox-ops.ts, sandbox-preview.ts and agent-events.ts depend on these and not on the class
 * (no import cycle, and each can be read, and faked, on its own). Sandbox implements them all.
 */
import type { ControlEventBody, SandboxCreateOptions, SandboxState, SandboxStatus, ExposedPort } from '../protocol/index';
import type { AgentClient, PortFetcher } from './agent-client';
import type { Exposure, ExposureMap } from './exposures';
import type { LiveState } from './live-state';
import type { PreviewConflict } from './preview-conflicts';
import type { TrafficLog } from './traffic/traffic-log';
import type { TrafficContext } from './traffic/traffic-ops';

/** What every helper needs: who the sandbox is, its agent, what runs in it, and the event log. */
export interface SandboxCore {
  readonly id: string;
  readonly agent: AgentClient;
  readonly live: LiveState;
  publish(event: ControlEventBody): Promise<void>;
}

/** The agent-event pump (agent-events.ts). */
export interface PumpContext extends SandboxCore {
  status(): SandboxStatus;
  handleStopped(reason: string): Promise<void>;
}

/** The operations (sandbox-ops.ts, and the inspector's in traffic/traffic-ops.ts). */
export interface OpsContext extends SandboxCore, TrafficContext {
  register(sandboxId: string, options?: SandboxCreateOptions): Promise<{ created: boolean; createdAt: string }>;
  status(): SandboxStatus;
  snapshot(): Promise<SandboxState>;
  ensureAgent(): Promise<AgentClient>;
  destroySandbox(): Promise<void>;
  defaultPreviewHostname(): string | undefined;
  mintGeneration(): number;
  exposures(): ExposureMap;
  saveExposures(map: ExposureMap): void;
  exposureFor(port: number): Exposure | undefined;
  exposedPorts(): ExposedPort[];
  createTicket(e: Exposure): { url: string; expiresAt: string };
  previewConflict(port: number, token: string): Promise<PreviewConflict | null>;
  /** The Container library's scheduler (ttl expiry). */
  schedule(when: Date, callback: 'expireExposure', payload: { port: number; token: string }): Promise<unknown>;
}

/** Serving preview requests (sandbox-preview.ts). */
export interface PreviewContext {
  readonly id: string;
  readonly agent: AgentClient;
  readonly apiToken: string | undefined;
  hasId(): boolean;
  attachIfRunning(): Promise<boolean>;
  clientAddress(request: Request): string | null;
  exposureFor(port: number): Exposure | undefined;
  consumeTicket(id: string, e: Exposure): boolean;
  tcpPort(port: number): PortFetcher;
  /** The Container library's idle timer: a preview request is activity. */
  renewActivityTimeout(): void;
  /** The traffic inspector's records; null when the Worker has it off (SANDBOX_INSPECT). */
  readonly traffic: TrafficLog | null;
}
