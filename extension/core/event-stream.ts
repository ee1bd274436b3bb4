/**
 * The control API's event stream (GET /api/v1/events) as a long-lived client: SSE over fetch,
 * resumes with Last-Event-ID, reconnects with backoff + jitter when the Worker goes away, and asks
 * for a full refetch on the first hello and on `reset` (the Worker no longer has our position).
 */
import {
  CONTROL_EVENT_NAME,
  ErrorCode,
  HELLO_EVENT_NAME,
  RESET_EVENT_NAME,
  STOP,
  SandboxError,
  FollowHandle,
  eventData,
  followSse,
  type ControlEvent,
  type SseMessage,
} from '../../worker/protocol/index';
import { Backoff } from './backoff';
import { realTimers, sleep, type Timers } from '../../worker/protocol/timers';

export type StreamStatus = 'connecting' | 'connected' | 'waiting' | 'failed' | 'stopped';

export interface StreamStatusChange {
  status: StreamStatus;
  error?: unknown;
  /** For `waiting`: how long until the next attempt. */
  retryInMs?: number;
}

export type ResyncReason = 'initial' | 'reset';

export interface EventStreamOptions {
  openStream(path: string, lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  onEvent(event: ControlEvent): void;
  /** Our view may be stale: fetch the whole state again. */
  onResync(reason: ResyncReason): void;
  onStatus?(change: StreamStatusChange): void;
  timers?: Timers;
  backoff?: Backoff;
}

/** Errors that retrying cannot fix: the token is wrong. */
function isFatal(err: unknown): boolean {
  return err instanceof SandboxError && err.code === ErrorCode.UNAUTHORIZED;
}

export class EventStream {
  /** The id of the last change applied; sent as Last-Event-ID on every reconnect. */
  lastEventId: string | undefined;
  private readonly options: EventStreamOptions;
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly follow = new FollowHandle((signal) => this.loop(signal));
  private current: StreamStatus = 'stopped';

  constructor(options: EventStreamOptions) {
    this.options = options;
    this.timers = options.timers ?? realTimers;
    this.backoff = options.backoff ?? new Backoff();
  }

  get status(): StreamStatus {
    return this.current;
  }

  start(): void {
    this.follow.start();
  }

  async stop(): Promise<void> {
    await this.follow.stop();
    this.setStatus({ status: 'stopped' });
  }

  /** Ends the current wait and reconnects at once (e.g. after the user pressed Refresh). */
  reconnectNow(): void {
    if (this.current === 'waiting' || this.current === 'failed') {
      void this.stop().then(() => this.start());
    }
  }

  private loop(signal: AbortSignal): Promise<void> {
    return followSse({
      signal,
      // The resume point follows hello and reset, not only message ids (handle() keeps it).
      lastEventId: () => this.lastEventId,
      open: (last, s) => {
        this.setStatus({ status: 'connecting' });
        return this.options.openStream('/events', last, s);
      },
      onMessage: (msg) => this.handle(msg),
      onDrop: (error) => {
        if (isFatal(error)) {
          this.setStatus({ status: 'failed', error });
          return STOP;
        }
        const retryInMs = this.backoff.next();
        this.setStatus({ status: 'waiting', error: error ?? new Error('the event stream ended'), retryInMs });
        return retryInMs;
      },
      sleep: (ms, s) => sleep(this.timers, ms, s),
    });
  }

  private handle(msg: SseMessage): void {
    if (msg.event === HELLO_EVENT_NAME) {
      this.backoff.reset();
      this.setStatus({ status: 'connected' });
      if (this.lastEventId === undefined) {
        this.lastEventId = String(parseId(msg.data) ?? 0);
        this.options.onResync('initial');
      }
      return;
    }
    if (msg.event === RESET_EVENT_NAME) {
      const newest = parseId(msg.data);
      this.lastEventId = newest === undefined ? undefined : String(newest);
      this.options.onResync('reset');
      return;
    }
    const event = eventData<ControlEvent>(msg, CONTROL_EVENT_NAME);
    if (!event) return;
    // A replay can overlap what we already applied; ids only grow, so skip the old ones.
    if (this.lastEventId !== undefined && event.id <= Number(this.lastEventId)) return;
    this.lastEventId = String(event.id);
    this.options.onEvent(event);
  }

  private setStatus(change: StreamStatusChange): void {
    if (change.status === this.current && change.status !== 'waiting') return;
    this.current = change.status;
    this.options.onStatus?.(change);
  }
}

function parseId(data: string): number | undefined {
  try {
    const value = (JSON.parse(data) as { lastEventId?: unknown }).lastEventId;
    return typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}
