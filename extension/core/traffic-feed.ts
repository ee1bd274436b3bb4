/**
 * The inspector panel's view of one exposure's traffic: the list, then the live stream from where
 * the list stood (so nothing is missed and nothing comes twice), resumed after a dropped connection
 * from the last event id, fetched again on `reset` (cleared, or too much missed), and told plainly
 * when inspection is off or the exposure ended. No vscode: the panel only renders what this says.
 */
import {
  ErrorCode,
  HELLO_EVENT_NAME,
  STOP,
  SandboxError,
  FollowHandle,
  TRAFFIC_ENDED_EVENT_NAME,
  TRAFFIC_ENTRIES,
  TRAFFIC_EVENT_NAME,
  TRAFFIC_RESET_EVENT_NAME,
  followSse,
  type SseMessage,
  type TrafficList,
  type TrafficSummary,
} from '../../worker/protocol/index';
import { isMissingRoute } from './api-client';
import { Backoff } from './backoff';
import { realTimers, sleep, type Timers } from '../../worker/protocol/timers';

export type FeedState =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'reconnecting'; error: string; retryInMs: number }
  /** Inspection is off for this exposure or this Worker: `reason` says which. */
  | { kind: 'off'; reason: string }
  /** The exposure is gone (unexposed, expired, the sandbox destroyed). */
  | { kind: 'ended'; reason: string }
  /** The token was refused: retrying cannot help. */
  | { kind: 'failed'; error: string };

export interface FeedView {
  /** Newest first (by id), at most TRAFFIC_ENTRIES. */
  entries: TrafficSummary[];
  state: FeedState;
}

export interface TrafficFeedOptions {
  list(): Promise<TrafficList>;
  openStream(lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  onChange(view: FeedView): void;
  timers?: Timers;
  backoff?: Backoff;
}

export class TrafficFeed {
  /** The entries by id, in the order they came (the list's in its order of ids): the oldest leave first, as on the Worker. */
  private readonly byId = new Map<number, TrafficSummary>();
  private lastEventId: string | undefined;
  private state: FeedState = { kind: 'connecting' };
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly follow = new FollowHandle((signal) => this.loop(signal));

  constructor(private readonly options: TrafficFeedOptions) {
    this.timers = options.timers ?? realTimers;
    this.backoff = options.backoff ?? new Backoff();
  }

  get view(): FeedView {
    return { entries: [...this.byId.values()].sort((a, b) => b.id - a.id), state: this.state };
  }

  start(): void {
    this.follow.start();
  }

  stop(): Promise<void> {
    return this.follow.stop();
  }

  /** Ends a wait between attempts and tries again now (the panel's Retry, or the connection came back). */
  async retryNow(): Promise<void> {
    if (this.state.kind === 'live' || this.state.kind === 'connecting') return;
    // After an end, what it showed may be another exposure's by now (re-exposed, another Worker).
    if (this.state.kind !== 'reconnecting') return this.restart();
    await this.follow.stop();
    this.follow.start();
  }

  /** Starts over from the list (the connection was replaced, or it had ended): nothing of before is kept. */
  async restart(): Promise<void> {
    await this.follow.stop();
    this.lastEventId = undefined;
    this.byId.clear();
    this.backoff.reset();
    this.set({ kind: 'connecting' });
    this.follow.start();
  }

  /** The panel cleared the records: the stream's `reset` follows, this only empties the table at once. */
  cleared(): void {
    this.byId.clear();
    this.emit();
  }

  private async loop(signal: AbortSignal): Promise<void> {
    // The list first, when there is no position yet: it says where the stream must start.
    if (this.lastEventId === undefined && !(await this.refetch(signal))) return;
    await followSse({
      signal,
      lastEventId: () => this.lastEventId,
      open: (last, s) => this.options.openStream(last, s),
      onMessage: (msg) => this.handle(msg, signal),
      onDrop: (error) => this.failure(error ?? new Error('the stream ended')),
      sleep: (ms, s) => sleep(this.timers, ms, s),
    });
  }

  /** Fetches the list; false when following should stop (off, ended, refused). */
  private async refetch(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      try {
        const list = await this.options.list();
        if (signal.aborted) return false;
        if (!list.inspect) {
          this.byId.clear();
          this.set({ kind: 'off', reason: list.reason ?? 'Inspection is off for this port' });
          return false;
        }
        this.byId.clear();
        for (const e of [...list.requests].reverse()) this.byId.set(e.id, e);
        this.lastEventId = list.lastEventId;
        this.emit();
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        const next = this.failure(err);
        if (next === STOP) return false;
        await sleep(this.timers, next, signal);
        if (signal.aborted) return false;
      }
    }
  }

  private async handle(msg: SseMessage, signal: AbortSignal): Promise<void | typeof STOP> {
    if (msg.event === HELLO_EVENT_NAME) {
      this.backoff.reset();
      this.set({ kind: 'live' });
      return;
    }
    if (msg.event === TRAFFIC_RESET_EVENT_NAME) {
      // Cleared, or what was missed is no longer kept: the list again, and on from where it stands.
      this.lastEventId = undefined;
      if (!(await this.refetch(signal))) return STOP;
      // The stream went on while the list came (a failed try in between said "reconnecting").
      this.backoff.reset();
      this.set({ kind: 'live' });
      return;
    }
    if (msg.event === TRAFFIC_ENDED_EVENT_NAME) {
      this.set({ kind: 'ended', reason: 'The exposure ended: the port was unexposed, its time ran out, or the sandbox was destroyed' });
      return STOP;
    }
    if (msg.event !== TRAFFIC_EVENT_NAME) return;
    let entry: TrafficSummary;
    try {
      entry = JSON.parse(msg.data) as TrafficSummary;
    } catch {
      return;
    }
    if (msg.id) this.lastEventId = msg.id;
    this.byId.delete(entry.id);
    this.byId.set(entry.id, entry);
    this.trim();
    this.emit();
  }

  /** What a failed list or stream means: stop (ended, off, refused) or try again after a wait. */
  private failure(err: unknown): number | typeof STOP {
    if (err instanceof SandboxError && err.code === ErrorCode.UNAUTHORIZED) {
      this.set({ kind: 'failed', error: err.message });
      return STOP;
    }
    if (err instanceof SandboxError && err.code === ErrorCode.INSPECTION_OFF) {
      this.set({ kind: 'off', reason: err.message });
      return STOP;
    }
    if (err instanceof SandboxError && (err.code === ErrorCode.NOT_FOUND || err.code === ErrorCode.SANDBOX_NOT_FOUND) && !isMissingRoute(err)) {
      this.set({ kind: 'ended', reason: err.message });
      return STOP;
    }
    const retryInMs = this.backoff.next();
    this.set({ kind: 'reconnecting', error: err instanceof Error ? err.message : String(err), retryInMs });
    return retryInMs;
  }

  /** Keeps the newest TRAFFIC_ENTRIES to come, as the Worker does (a long request that just finished stays). */
  private trim(): void {
    for (const id of this.byId.keys()) {
      if (this.byId.size <= TRAFFIC_ENTRIES) return;
      this.byId.delete(id);
    }
  }

  private set(state: FeedState): void {
    this.state = state;
    this.emit();
  }

  private emit(): void {
    this.options.onChange(this.view);
  }
}
