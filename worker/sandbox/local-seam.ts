import { LocalContainer } from './local-container';
import type { Env } from '../env';
import { LOCAL_SECRET_HEADER, type HostCapacity, type IsolationKind, type LimitsKind } from '../protocol/index';

/** How this Worker's sandboxes are kept apart and limited (the health route's fields). */
export interface HostReport {
  isolation: IsolationKind;
  isolationReason?: string;
  limits: LimitsKind;
  limitsReason?: string;
  /** Locally: the most one sandbox can get on this machine. */
  capacity?: HostCapacity;
}

/** The host's answer, once it gave one: its modes do not change while it runs. */
let known: HostReport | null = null;

/**
 * Containers on the platform; locally, what the container host found at start: namespaces or
 * none (and why), cgroups or none (and why), and what one sandbox can get.
 */
export async function hostReport(env: Env): Promise<HostReport> {
  if (!env.LOCAL_CONTAINER_HOST) return { isolation: 'container', limits: 'container' };
  if (known) return known;
  try {
    const res = await fetch(`${env.LOCAL_CONTAINER_HOST.replace(/\/$/, '')}/health`, { headers: { [LOCAL_SECRET_HEADER]: env.LOCAL_HOST_SECRET ?? '' } });
    const body = (await res.json()) as Record<string, unknown>;
    if (body.isolation !== 'namespaces' && body.isolation !== 'none') throw new Error(`unexpected answer ${res.status}`);
    const limits = body.limits === 'cgroup2' || body.limits === 'cgroup1' ? body.limits : 'none';
    const capacity = body.capacity as HostCapacity | undefined;
    known = {
      isolation: body.isolation,
      ...(typeof body.reason === 'string' ? { isolationReason: body.reason } : {}),
      limits,
      ...(typeof body.limitsReason === 'string' ? { limitsReason: body.limitsReason } : {}),
      ...(capacity && typeof capacity.memoryMiB === 'number' && typeof capacity.vcpu === 'number' ? { capacity } : {}),
    };
    return known;
  } catch (err) {
    const why = `the local container host did not answer (${(err as Error).message})`;
    return { isolation: 'none', isolationReason: why, limits: 'none', limitsReason: why };
  }
}

/**
 * Gives the Durable Object a container handle when the platform did not: only when
 * `ctx.container` is undefined AND the local container host is configured. On Cloudflare the
 * platform's handle is always kept.
 */
export function installLocalContainer(
  ctx: { id: DurableObjectId; blockConcurrencyWhile?: DurableObjectState['blockConcurrencyWhile'] },
  env: Env,
  knownSandboxId?: string,
): 'platform' | 'local' | 'none' {
  const holder = ctx as unknown as { container?: unknown };
  if (holder.container !== undefined) return 'platform';
  if (!env.LOCAL_CONTAINER_HOST) return 'none';
  const standIn = new LocalContainer({
    hostUrl: env.LOCAL_CONTAINER_HOST.replace(/\/$/, ''),
    hostSecret: env.LOCAL_HOST_SECRET ?? '',
    fallbackKey: ctx.id.toString(),
    bindCheckAddress: env.LOCAL_BIND_CHECK || undefined,
  });
  Object.defineProperty(ctx, 'container', { value: standIn, configurable: true, enumerable: true });
  // The platform knows at once whether the container still runs after the object restarted; the
  // stand-in asks the host, before the object takes any request.
  if (knownSandboxId && ctx.blockConcurrencyWhile) void ctx.blockConcurrencyWhile(() => standIn.attach(knownSandboxId));
  return 'local';
}
