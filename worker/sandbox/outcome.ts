/**
 * What a Sandbox Durable Object's RPC method answers. Errors do not keep their class or code
 * across Durable Object RPC, so the object captures them into an Outcome and the caller
 * (rpc.ts) turns it back into a SandboxError: the code survives every hop.
 */
import { SandboxError, errorFromBody, toErrorBody, type ErrorBody } from '../protocol/index';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

export async function capture<T>(fn: () => Promise<T> | T): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (!(err instanceof SandboxError)) console.error('sandbox operation failed:', err);
    return { ok: false, error: toErrorBody(err) };
  }
}

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw errorFromBody(outcome.error, outcome.error.error);
}
