/**
 * The hop to a Sandbox Durable Object, used by the control API and by the SDK alike. Errors do not
 * keep their class or code across Durable Object RPC, so RPC methods answer an Outcome and the
 * caller turns it back into a SandboxError: the code survives every hop.
 */
import { ErrorCode, SandboxError, errorFromBody, toErrorBody, type ErrorBody, type SandboxCreateOptions } from '../protocol/index';
import type { Sandbox } from './sandbox';
import type { SandboxOps } from './sandbox-ops';

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

export type Caller = <K extends keyof SandboxOps>(op: K, ...args: Parameters<SandboxOps[K]>) => Promise<Awaited<ReturnType<SandboxOps[K]>>>;

/** Resolves the Durable Object stub for an id and returns a callable for its operations. */
export function sandboxCaller(ns: DurableObjectNamespace<Sandbox>, id: string, autoCreate: boolean, createOptions: SandboxCreateOptions = {}): Caller {
  const stub = ns.get(ns.idFromName(id)) as unknown as {
    call(sandboxId: string, op: string, args: unknown[], autoCreate: boolean, createOptions: SandboxCreateOptions): Promise<Outcome<unknown>>;
  };
  return (async (op: string, ...args: unknown[]) => {
    let outcome: Outcome<unknown>;
    try {
      outcome = await stub.call(id, op, args, autoCreate, createOptions);
    } catch (err) {
      // The object itself failed (it could not even be constructed): say what to do about it.
      const message = (err as Error).message ?? String(err);
      if (/Containers have not been enabled/i.test(message)) {
        throw new SandboxError(ErrorCode.SANDBOX_NOT_RUNNING, 'No container runtime is available: deploy with a containers entry, or run the local stack with `npm start`');
      }
      throw new SandboxError(ErrorCode.INTERNAL_ERROR, `Sandbox '${id}' failed: ${message}`);
    }
    return unwrap(outcome);
  }) as Caller;
}
