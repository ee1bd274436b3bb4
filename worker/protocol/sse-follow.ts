/**
 * One resumable follower for every SSE stream the product reads: the extension's control-event
 * stream and its process-log streams, and the Durable Object's pump of its agent's events. It
 * opens the stream with the last event id, hands each message on in order (awaiting async
 * handlers), and when the stream fails or ends asks its owner what to do: reopen after a delay, or
 * stop. Each owner keeps its own policy (backoff, final errors, status); this keeps the loop.
 * Platform-neutral: streams, TextDecoder and AbortSignal exist in workerd, Node and VS Code.
 */
import { SseParser, type SseMessage } from './sse';

/** What a handler answers to end following (a process's exit event, say). */
export const STOP = 'stop';
type Stop = typeof STOP;

/**
 * Calls `onMessage` for every whole message of `body`, in order, until the body ends (resolves),
 * the signal aborts (resolves), a handler answers STOP (resolves STOP) or the body fails (rejects).
 * A message cut off by the end of the body is not dispatched, as EventSource does.
 */
export async function readSse(body: ReadableStream<Uint8Array>, onMessage: (msg: SseMessage) => void | Stop | Promise<void | Stop>, signal?: AbortSignal): Promise<Stop | void> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  // Stopping must not wait for the next byte: cancel the read when the signal aborts.
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const dispatch = async (messages: SseMessage[]): Promise<Stop | void> => {
    for (const msg of messages) {
      if (signal?.aborted) return;
      if ((await onMessage(msg)) === STOP) return STOP;
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal?.aborted) break;
      if ((await dispatch(parser.push(decoder.decode(value, { stream: true })))) === STOP) {
        void reader.cancel().catch(() => {});
        return STOP;
      }
    }
    if (!signal?.aborted) return dispatch(parser.push(decoder.decode()));
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}

export interface SseFollowOptions {
  /** Opens the stream, resuming after `lastEventId` when there is one. */
  open(lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  /** The resume point; by default the id of the last message seen. */
  lastEventId?(): string | undefined;
  /** A stream opened (before its first message). */
  onOpen?(): void;
  onMessage(msg: SseMessage): void | Stop | Promise<void | Stop>;
  /** The stream failed (`error`) or ended (`undefined`): milliseconds until it is reopened, or STOP. */
  onDrop(error: unknown): number | Stop | Promise<number | Stop>;
  /** Waits `ms`, or less when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  signal: AbortSignal;
}

/** Follows until a handler or `onDrop` answers STOP, or the signal aborts. */
export async function followSse(options: SseFollowOptions): Promise<void> {
  const { signal } = options;
  let seen: string | undefined;
  const track = (msg: SseMessage) => {
    if (msg.id) seen = msg.id;
    return options.onMessage(msg);
  };
  while (!signal.aborted) {
    let error: unknown;
    try {
      const body = await options.open(options.lastEventId ? options.lastEventId() : seen, signal);
      options.onOpen?.();
      if ((await readSse(body, track, signal)) === STOP) return;
    } catch (err) {
      error = err;
    }
    if (signal.aborted) return;
    const next = await options.onDrop(error);
    if (next === STOP) return;
    await options.sleep(next, signal);
  }
}

/** A follow that can be started and stopped, with at most one loop at a time. */
export class FollowHandle {
  private abort: AbortController | null = null;
  private running: Promise<void> | null = null;
  private readonly run: (signal: AbortSignal) => Promise<void>;

  constructor(run: (signal: AbortSignal) => Promise<void>) {
    this.run = run;
  }

  get active(): boolean {
    return this.running !== null;
  }

  start(): void {
    if (this.running) return;
    const abort = new AbortController();
    this.abort = abort;
    this.running = this.run(abort.signal).finally(() => {
      this.running = null;
    });
  }

  /** Aborts the loop and resolves once it has ended. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.running;
  }

  /** Resolves when the loop ends by itself (or at once when none runs). */
  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}
