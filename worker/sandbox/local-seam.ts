import { LocalContainer } from './local-container';
import type { Env } from '../env';
import { LOCAL_SECRET_HEADER, type IsolationKind } from '../protocol/index';

export interface IsolationReport {
  isolation: IsolationKind;
  isolationReason?: string;
}

/** The host's answer, once it gave one: its mode does not change while it runs. */
let known: IsolationReport | null = null;

/**
 * How this Worker's sandboxes are isolated: containers on the platform; locally, what the
 * container host found at start (namespaces, or none and why).
 */
export async function isolationOf(env: Env): Promise<IsolationReport> {
  if (!env.LOCAL_CONTAINER_HOST) return { isolation: 'container' };
  if (known) return known;
  try {
    const res = await fetch(`${env.LOCAL_CONTAINER_HOST.replace(/\/$/, '')}/health`, { headers: { [LOCAL_SECRET_HEADER]: env.LOCAL_HOST_SECRET ?? '' } });
    const body = (await res.json()) as { isolation?: unknown; reason?: unknown };
    if (body.isolation !== 'namespaces' && body.isolation !== 'none') throw new Error(`unexpected answer ${res.status}`);
    known = { isolation: body.isolation, ...(typeof body.reason === 'string' ? { isolationReason: body.reason } : {}) };
    return known;
  } catch (err) {
    return { isolation: 'none', isolationReason: `the local container host did not answer (${(err as Error).message})` };
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
