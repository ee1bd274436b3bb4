/**
 * Waits that cannot hang: each one settles by its own logic, by its timeout, or when the client
 * that asked goes away, and always runs its cleanup (listeners removed, timers cleared).
 */
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';

export interface Settle<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export interface DeadlineOptions {
  timeoutMs: number;
  onTimeout: () => Error;
  /** Aborted when the requesting client disconnects. */
  signal?: AbortSignal;
}

/** `body` starts the wait and returns its cleanup, which runs exactly once however it ends. */
export function withDeadline<T>(opts: DeadlineOptions, body: (settle: Settle<T>) => (() => void) | void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    // Assigned once the body has run; `finish` may be called before that (a synchronous settle).
    // eslint-disable-next-line prefer-const
    let cleanup: (() => void) | void;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (cleanup) cleanup();
      fn();
    };
    const settle: Settle<T> = {
      resolve: (v) => finish(() => resolve(v)),
      reject: (e) => finish(() => reject(e)),
    };
    const onAbort = (): void => settle.reject(new SandboxError(ErrorCode.INTERNAL_ERROR, 'The client went away before the wait ended'));
    const timer = setTimeout(() => settle.reject(opts.onTimeout()), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort);
    cleanup = body(settle);
    // body may settle synchronously before cleanup was assigned
    if (done && cleanup) cleanup();
    if (opts.signal?.aborted) onAbort();
  });
}

/** An AbortSignal that fires when the response closes before it was finished (client gone). */
export function clientGone(res: { on(event: 'close', fn: () => void): unknown; writableFinished: boolean }): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}
