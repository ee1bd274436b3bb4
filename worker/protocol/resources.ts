/**
 * What a sandbox may use, and what it uses. The instance types are Cloudflare Containers' own
 * (names and sizes as its "Limits and Instance Types" page gives them), so a sandbox sized one way
 * locally is sized the same on Cloudflare. Locally two more limits apply, which the platform does
 * not publish: the number of tasks (processes and threads) and the size of the in-memory /tmp.
 */
import { ErrorCode, SandboxError } from './errors';

/** The three sizes Cloudflare gives an instance type (wrangler's `vcpu`, `memory_mib`, `disk_mb`). */
export interface InstanceSize {
  vcpu: number;
  memoryMiB: number;
  diskMB: number;
}

export const INSTANCE_TYPES = {
  lite: { vcpu: 1 / 16, memoryMiB: 256, diskMB: 2000 },
  basic: { vcpu: 1 / 4, memoryMiB: 1024, diskMB: 4000 },
  'standard-1': { vcpu: 1 / 2, memoryMiB: 4096, diskMB: 8000 },
  'standard-2': { vcpu: 1, memoryMiB: 6144, diskMB: 12000 },
  'standard-3': { vcpu: 2, memoryMiB: 8192, diskMB: 16000 },
  'standard-4': { vcpu: 4, memoryMiB: 12288, diskMB: 20000 },
} as const satisfies Record<string, InstanceSize>;

export type InstanceTypeName = keyof typeof INSTANCE_TYPES;

/** Older names wrangler still accepts for the same types. */
const ALIASES: Record<string, InstanceTypeName> = { dev: 'lite', standard: 'standard-1' };

/** The instance type a sandbox was given, or `custom` when `resources` changed any size of it. */
export type SandboxInstanceType = InstanceTypeName | 'custom';

export interface SandboxResources extends InstanceSize {
  /** Tasks (processes and their threads) that may exist at once; fork fails past it. */
  processes: number;
  /** Size of /tmp and of HOME inside a local sandbox, each, in MiB. They live in memory, so what they hold counts toward memoryMiB. */
  tmpMiB: number;
}

/** How the limits are enforced: by the platform (a Cloudflare container), by cgroups here, or not at all. */
export type LimitsKind = 'container' | 'cgroup2' | 'cgroup1' | 'none';

/** What a machine can give one sandbox at most. */
export interface HostCapacity {
  memoryMiB: number;
  vcpu: number;
}

/** One task per 2 MiB of memory, from 256 to 4096: room for a build's workers, not for a fork bomb. */
export function processesFor(memoryMiB: number): number {
  return Math.min(4096, Math.max(256, Math.round(memoryMiB / 2)));
}

/** A quarter of the memory, at most the disk, at least 16 MiB. */
export function tmpFor(memoryMiB: number, diskMB: number): number {
  return Math.max(16, Math.min(Math.floor(memoryMiB / 4), diskMB));
}

export function instanceResources(name: InstanceTypeName): SandboxResources {
  const size = INSTANCE_TYPES[name];
  return { ...size, processes: processesFor(size.memoryMiB), tmpMiB: tmpFor(size.memoryMiB, size.diskMB) };
}

const NAMES = Object.keys(INSTANCE_TYPES).join(', ');

export function checkInstanceType(value: unknown, field = 'instanceType'): InstanceTypeName {
  if (typeof value === 'string') {
    const name = ALIASES[value] ?? value;
    if (Object.prototype.hasOwnProperty.call(INSTANCE_TYPES, name)) return name as InstanceTypeName;
  }
  const shown = typeof value === 'string' ? `'${value.slice(0, 40)}'` : JSON.stringify(value)?.slice(0, 40);
  throw new SandboxError(ErrorCode.INVALID_INSTANCE_TYPE, `Field '${field}' must be one of Cloudflare's instance types: ${NAMES} (got ${shown})`);
}

/** What a create may ask for, on top of the Worker's configured instance type. */
export interface ResourceRequest {
  instanceType?: InstanceTypeName;
  resources?: Partial<SandboxResources>;
}

/** The bounds of each field of `resources`: [min, max, integer]. */
const RESOURCE_FIELDS: Record<keyof SandboxResources, [number, number, boolean, string]> = {
  vcpu: [1 / 64, 64, false, 'vCPUs'],
  memoryMiB: [64, 1024 * 1024, true, 'MiB'],
  diskMB: [100, 10_000_000, true, 'MB'],
  // The agent alone runs a dozen threads.
  processes: [64, 1_000_000, true, 'tasks'],
  tmpMiB: [1, 1024 * 1024, true, 'MiB'],
};

/** Reads `instanceType` and `resources` of a create body; every bad field gets a 400 naming it. */
export function parseResourceRequest(body: Record<string, unknown>): ResourceRequest {
  const out: ResourceRequest = {};
  if (body.instanceType !== undefined && body.instanceType !== null) out.instanceType = checkInstanceType(body.instanceType);
  const raw = body.resources;
  if (raw === undefined || raw === null) return out;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'resources' must be an object such as { "memoryMiB": 512 } (fields: ${Object.keys(RESOURCE_FIELDS).join(', ')})`);
  }
  const resources: Partial<SandboxResources> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const bounds = Object.hasOwn(RESOURCE_FIELDS, key) ? RESOURCE_FIELDS[key as keyof SandboxResources] : undefined;
    if (!bounds) throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'resources.${key}' is not a resource; the fields are ${Object.keys(RESOURCE_FIELDS).join(', ')}`);
    const [min, max, integer, unit] = bounds;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      const kind = integer ? 'a whole number' : 'a number';
      throw new SandboxError(
        ErrorCode.INVALID_REQUEST,
        `Field 'resources.${key}' must be ${kind} of ${unit} from ${formatNumber(min)} to ${formatNumber(max)} (got ${JSON.stringify(value)?.slice(0, 40)})`,
      );
    }
    resources[key as keyof SandboxResources] = value;
  }
  if (Object.keys(resources).length > 0) out.resources = resources;
  return out;
}

/** A complete SandboxResources off a wire (the local host's start request): every field, each in bounds. */
export function checkResources(raw: unknown): SandboxResources {
  const parsed = parseResourceRequest({ resources: raw }).resources ?? {};
  const missing = (Object.keys(RESOURCE_FIELDS) as (keyof SandboxResources)[]).filter((k) => parsed[k] === undefined);
  if (missing.length > 0) throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'resources' lacks ${missing.join(', ')}`);
  return parsed as SandboxResources;
}

export interface ChosenResources {
  instanceType: SandboxInstanceType;
  resources: SandboxResources;
}

/**
 * The sizes a new sandbox gets: the named instance type (or the configured one), with any field of
 * `resources` in its place. The task limit and /tmp follow the memory unless given.
 */
export function chooseResources(configured: InstanceTypeName, request: ResourceRequest): ChosenResources {
  const name = request.instanceType ?? configured;
  const given = request.resources ?? {};
  const base = INSTANCE_TYPES[name];
  const memoryMiB = given.memoryMiB ?? base.memoryMiB;
  const diskMB = given.diskMB ?? base.diskMB;
  const resources: SandboxResources = {
    vcpu: given.vcpu ?? base.vcpu,
    memoryMiB,
    diskMB,
    processes: given.processes ?? processesFor(memoryMiB),
    tmpMiB: given.tmpMiB ?? tmpFor(memoryMiB, diskMB),
  };
  if (resources.tmpMiB > memoryMiB) {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'resources.tmpMiB' (${resources.tmpMiB}) cannot exceed the memory (${memoryMiB} MiB): /tmp lives in memory`);
  }
  const custom = (Object.keys(given) as (keyof SandboxResources)[]).some((k) => given[k] !== instanceResources(name)[k]);
  return { instanceType: custom ? 'custom' : name, resources };
}

/** Refuses sizes this machine cannot give (400 RESOURCES_UNAVAILABLE, naming what and how much). */
export function checkFitsHost(chosen: ChosenResources, capacity: HostCapacity): void {
  const { resources, instanceType } = chosen;
  const what = instanceType === 'custom' ? 'These resources ask for' : `Instance type ${instanceType} has`;
  if (resources.memoryMiB > capacity.memoryMiB) {
    throw new SandboxError(
      ErrorCode.RESOURCES_UNAVAILABLE,
      `${what} ${formatMiB(resources.memoryMiB)} of memory, more than this machine can give a sandbox (${formatMiB(capacity.memoryMiB)}): choose a smaller instance type or resources.memoryMiB`,
    );
  }
  if (resources.vcpu > capacity.vcpu) {
    throw new SandboxError(
      ErrorCode.RESOURCES_UNAVAILABLE,
      `${what} ${formatVcpu(resources.vcpu)}, more than this machine has (${formatVcpu(capacity.vcpu)}): choose a smaller instance type or resources.vcpu`,
    );
  }
}

/** The configured default shrunk to what the machine has, so that a small machine still starts sandboxes. */
export function fitToHost(resources: SandboxResources, capacity: HostCapacity): SandboxResources {
  if (resources.memoryMiB <= capacity.memoryMiB && resources.vcpu <= capacity.vcpu) return resources;
  const memoryMiB = Math.min(resources.memoryMiB, capacity.memoryMiB);
  return { ...resources, vcpu: Math.min(resources.vcpu, capacity.vcpu), memoryMiB, tmpMiB: Math.min(resources.tmpMiB, tmpFor(memoryMiB, resources.diskMB)) };
}

/** What a sandbox uses right now, read from its cgroup (limits are null where none is set). */
export interface ResourceUsage {
  /** Bytes in use, without the file cache the kernel can drop (as `docker stats` counts it). */
  memory: { used: number; limit: number | null };
  /** Tasks (processes and threads). */
  processes: { count: number; limit: number | null };
  /** CPU time used by everything in the sandbox since it started, in seconds. */
  cpu: { seconds: number };
  /**
   * Bytes of files in /workspace, /tmp and HOME (counted at most every few seconds); the limit is the
   * sandbox's diskMB. `partial`: the count stopped at 200,000 files, so it is a lower bound.
   */
  disk: { used: number; partial?: true };
  /** How often the kernel killed a process of the sandbox for memory since it started. */
  oomKills: number;
  /** ISO-8601 time of the reading. */
  at: string;
}

/** Used memory at or above this share of the limit marks a sandbox as near it. */
export const MEMORY_NEAR_LIMIT = 0.9;

export function nearMemoryLimit(usage: ResourceUsage | undefined): boolean {
  const { used, limit } = usage?.memory ?? { used: 0, limit: null };
  return limit !== null && limit > 0 && used >= limit * MEMORY_NEAR_LIMIT;
}

export const MiB = 1024 * 1024;

/** `256 MiB`, `4 GiB`, `1.5 GiB`. */
export function formatMiB(mib: number): string {
  if (mib >= 1024) return `${formatNumber(Math.round((mib / 1024) * 10) / 10)} GiB`;
  return `${formatNumber(Math.round(mib))} MiB`;
}

export function formatBytes(bytes: number): string {
  if (bytes < MiB) return `${Math.max(0, Math.round(bytes / 1024))} KiB`;
  return formatMiB(bytes / MiB);
}

/** `1/16 vCPU`, `1/2 vCPU`, `2 vCPU`. */
export function formatVcpu(vcpu: number): string {
  if (vcpu < 1) {
    const denominator = Math.round(1 / vcpu);
    if (Math.abs(1 / denominator - vcpu) < 1e-9) return `1/${denominator} vCPU`;
  }
  return `${formatNumber(Math.round(vcpu * 100) / 100)} vCPU`;
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(4)));
}
