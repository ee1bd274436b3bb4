import type { Env } from '../env';
import type { ControlEventBody } from '../protocol/index';

/** The registry is a single Durable Object: the platform cannot list Durable Objects itself. */
export function registryStub(env: Env) {
  return env.Registry.get(env.Registry.idFromName('registry'));
}

export async function publishEvent(env: Env, event: ControlEventBody): Promise<void> {
  try {
    await registryStub(env).publish(event);
  } catch (err) {
    // A lost event must not fail the operation that caused it; clients resync on reconnect.
    console.error('could not publish event', event.type, err);
  }
}
