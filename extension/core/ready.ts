/**
 * "Open when ready": wait until an exposed port answers before opening its preview. A port that
 * belongs to a known process uses the Worker's wait-for-port (which also fails fast when the
 * process exits); any other port polls the preview URL until the service, not the proxy, answers.
 */
import { ErrorCode, SandboxError } from '../../worker/protocol/index';
import type { FetchLike } from './api-client';
import { realTimers, sleep, type Timers } from '../../worker/protocol/timers';

export interface ReadyOptions {
  waitForPort?(timeoutMs: number): Promise<void>;
  url: string;
  /** Sent to the preview so a private one answers the poll. */
  token?: string;
  fetch?: FetchLike;
  timers?: Timers;
  clock?: () => number;
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/** Statuses that come from the proxy, not the service: keep waiting. */
const NOT_YET = new Set([502, 503, 504]);

export async function waitUntilReady(options: ReadyOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (options.waitForPort) return options.waitForPort(timeoutMs);
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const timers = options.timers ?? realTimers;
  const clock = options.clock ?? Date.now;
  const deadline = clock() + timeoutMs;
  let last: string;
  for (;;) {
    if (options.signal?.aborted) throw new SandboxError(ErrorCode.TIMEOUT, 'Cancelled while waiting for the preview');
    try {
      const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
      const res = await fetchImpl(options.url, { method: 'GET', headers, redirect: 'manual' });
      await res.body?.cancel().catch(() => {});
      if (!NOT_YET.has(res.status)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (clock() >= deadline) {
      throw new SandboxError(ErrorCode.TIMEOUT, `The preview ${options.url} did not answer within ${timeoutMs} ms (last: ${last})`);
    }
    await sleep(timers, options.intervalMs ?? 500, options.signal);
  }
}
