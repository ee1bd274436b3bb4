/**
 * The hop to a Sandbox Durable Object, used by the control API and by the SDK alike: a callable
 * for the object's operations that turns its Outcome (outcome.ts) back into a value or a
 * SandboxError.
 */
import { ErrorCode, SandboxError, type SandboxCreateOptions } from '../protocol/index';
import { unwrap, type Outcome } from './outcome';
import type { Sandbox } from './sandbox';
import type { SandboxOps } from './sandbox-ops';

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
