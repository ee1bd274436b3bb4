/** Control API shapes (extension ↔ Worker), under /api/v1. */
import type { DetectedPort, ProcessInfo } from './process';
import type { InstanceTypeName, LimitsKind, ResourceUsage, SandboxInstanceType, SandboxResources } from './resources';
import type { PortTraffic } from './traffic';

export const API_PREFIX = '/api/v1';

export type SandboxStatus = 'stopped' | 'starting' | 'running' | 'destroyed';

export type Visibility = 'public' | 'private';

export interface ExposePortOptions {
  hostname?: string;
  /** null removes the name a re-expose would otherwise keep. */
  name?: string | null;
  token?: string;
  /** '30m', '2h', or milliseconds. */
  ttl?: string | number;
  visibility?: Visibility;
  /** false: the traffic inspector records nothing of this exposure (default true). */
  inspect?: boolean;
}

export interface ExposePortResult {
  url: string;
  /** The same string as url (older documents use this name). */
  exposedAt: string;
  port: number;
  name?: string;
}

export interface ExposedPort extends ExposePortResult {
  visibility: Visibility;
  createdAt: string;
  expiresAt?: string;
  /** Whether the traffic inspector records its requests. */
  inspect?: boolean;
  /** What the inspector counted (in a sandbox's snapshot and `port-traffic` events). */
  traffic?: PortTraffic;
}

export interface TunnelInfo {
  id: string;
  port: number;
  url: string;
  hostname: string;
  createdAt: string;
}

export interface SandboxSummary {
  id: string;
  status: SandboxStatus;
  createdAt: string;
}

/**
 * How a sandbox is kept apart from others: a Cloudflare container, namespaces of its own on a
 * local Linux machine, or nothing (the local fallback: plain processes).
 */
export type IsolationKind = 'container' | 'namespaces' | 'none';

export interface SandboxState extends SandboxSummary {
  /** Known once the sandbox has run. */
  isolation?: IsolationKind;
  /** Whether the sandbox has outbound network (`enableInternet`, default true). */
  internet?: boolean;
  /** Its Cloudflare instance type (chosen when it was created), or `custom`. Always sent by this Worker. */
  instanceType?: SandboxInstanceType;
  /** What it may use. Always sent by this Worker. */
  limits?: SandboxResources;
  /** What it uses now, while it runs and its cgroup can be read. */
  resources?: ResourceUsage;
  processes: ProcessInfo[];
  ports: ExposedPort[];
  detectedPorts: DetectedPort[];
  tunnels: TunnelInfo[];
}

export interface CreateSandboxRequest extends SandboxCreateOptions {
  id: string;
  normalizeId?: boolean;
}

/** Options a sandbox takes when it is first created (and keeps). */
export interface SandboxCreateOptions {
  /** false: the sandbox has no outbound network at all. */
  enableInternet?: boolean;
  /** One of Cloudflare's instance types; default: the Worker's SANDBOX_INSTANCE_TYPE. */
  instanceType?: InstanceTypeName;
  /** Sizes in place of the instance type's (locally; Cloudflare sizes every container of the class alike). */
  resources?: Partial<SandboxResources>;
}

export interface HealthResponse {
  ok: true;
  version: string;
  /** How this Worker's sandboxes are isolated; `isolationReason` says why not, when 'none'. */
  isolation: IsolationKind;
  isolationReason?: string;
  /** How their limits are enforced; `limitsReason` says why not, when 'none'. */
  limits: LimitsKind;
  limitsReason?: string;
  /** The instance type a sandbox gets unless it is created with another (SANDBOX_INSTANCE_TYPE; `invalid: …` when that names none). */
  instanceType: InstanceTypeName | `invalid: ${string}`;
}

/** Largest JSON body the control API reads; larger ones get 413 BODY_TOO_LARGE. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;
/** Largest file body accepted by PUT /files. */
export const MAX_FILE_BODY_BYTES = 32 * 1024 * 1024;
