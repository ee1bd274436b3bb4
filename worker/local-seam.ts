import { LocalContainer } from './local-container';
import type { Env } from './env';

/**
 * Gives the Durable Object a container handle when the platform did not: only when
 * `ctx.container` is undefined AND the local container host is configured. On Cloudflare the
 * platform's handle is always kept.
 */
export function installLocalContainer(ctx: { id: DurableObjectId }, env: Env): 'platform' | 'local' | 'none' {
  const holder = ctx as unknown as { container?: unknown };
  if (holder.container !== undefined) return 'platform';
  if (!env.LOCAL_CONTAINER_HOST) return 'none';
  Object.defineProperty(ctx, 'container', {
    value: new LocalContainer(env.LOCAL_CONTAINER_HOST.replace(/\/$/, ''), ctx.id.toString(), env.LOCAL_BIND_CHECK || undefined),
    configurable: true,
    enumerable: true,
  });
  return 'local';
}
