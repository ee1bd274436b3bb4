import { LocalContainer } from './local-container';
import type { Env } from './env';

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
