/**
 * One connection to a Worker: the API client, the live store, the event stream feeding it, and
 * the polling fallback (only while the stream is down and the view is visible).
 */
import type { ControlEvent } from '../../worker/protocol/index';
import { ApiClient } from './api-client';
import { Emitter } from './emitter';
import { EventStream, type StreamStatusChange } from './event-stream';
import { SandboxStore } from './store';
import { realTimers, type Timers } from '../../worker/protocol/timers';
import type { Backoff } from './backoff';

export type LogLevel = 'trace' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string) => void;

export interface ConnectionOptions {
  client: ApiClient;
  timers?: Timers;
  log?: Logger;
  pollIntervalMs?: number;
  backoff?: Backoff;
}

export class Connection {
  readonly client: ApiClient;
  readonly store = new SandboxStore();
  readonly stream: EventStream;
  private readonly statusEmitter = new Emitter<StreamStatusChange>();
  private readonly eventEmitter = new Emitter<ControlEvent>();
  private readonly syncedEmitter = new Emitter<void>();
  /** Stream status changes (connecting, connected, waiting with a retry delay, failed). */
  readonly onStatus = this.statusEmitter.on.bind(this.statusEmitter);
  /** Every event after it was applied to the store. */
  readonly onEvent = this.eventEmitter.on.bind(this.eventEmitter);
  /** After every full fetch. */
  readonly onSynced = this.syncedEmitter.on.bind(this.syncedEmitter);
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private viewVisible = false;
  private pollHandle: unknown = null;
  private disposed = false;
  /** The full fetch the stream's latest hello or reset asked for. */
  private resync: Promise<void> | null = null;
  private readonly resyncEmitter = new Emitter<void>();

  constructor(options: ConnectionOptions) {
    this.client = options.client;
    this.timers = options.timers ?? realTimers;
    this.log = options.log ?? (() => {});
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.stream = new EventStream({
      openStream: (path, last, signal) => this.client.openStream(path, last, signal),
      onEvent: (event) => {
        this.log('trace', `event ${event.id} ${event.type} ${event.sandboxId}`);
        this.store.apply(event);
        this.eventEmitter.fire(event);
      },
      onResync: (reason) => {
        this.log('info', `event stream: ${reason === 'initial' ? 'connected' : 'history lost (reset)'}; fetching the full state`);
        this.resync = this.refresh();
        this.resync.catch((err: unknown) => this.log('error', `fetching the state failed: ${(err as Error).message}`));
        this.resyncEmitter.fire();
      },
      onStatus: (change) => {
        if (change.status === 'waiting') {
          this.log('warn', `event stream lost (${(change.error as Error)?.message ?? 'ended'}); reconnecting in ${change.retryInMs} ms`);
        } else if (change.status === 'failed') {
          this.log('error', `event stream failed: ${(change.error as Error)?.message}`);
        } else {
          this.log('info', `event stream ${change.status}`);
        }
        this.updatePolling();
        this.statusEmitter.fire(change);
      },
      timers: this.timers,
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
  }

  get connected(): boolean {
    return this.stream.status === 'connected';
  }

  start(): void {
    this.stream.start();
  }

  /**
   * Resolves once the first full state is in, after start(). The stream's hello brings that fetch
   * (it must follow the stream's start, or events in between would be lost), so waiting for it
   * saves a second one. A stream that fails, or says nothing for `helloWaitMs` (a proxy that
   * buffers), gets a direct fetch instead, so a connect never hangs on it. Rejects when the fetch
   * fails.
   */
  async initialSync(helloWaitMs = 3000): Promise<void> {
    const comingUp = (): boolean => !this.resync && (this.stream.status === 'connecting' || this.stream.status === 'connected');
    if (comingUp()) {
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          this.timers.clearTimeout(timer);
          subs.forEach((s) => s.dispose());
          resolve();
        };
        const check = (): void => {
          if (!comingUp()) finish();
        };
        const timer = this.timers.setTimeout(finish, helloWaitMs);
        const subs = [this.resyncEmitter.on(check), this.onStatus(check)];
      });
    }
    await (this.resync ?? this.refresh());
  }

  /** Full fetch; also asks a waiting stream to reconnect at once (the manual Refresh). */
  async refresh(): Promise<void> {
    this.stream.reconnectNow();
    await this.store.refetch(this.client);
    this.syncedEmitter.fire();
  }

  setViewVisible(visible: boolean): void {
    this.viewVisible = visible;
    this.updatePolling();
  }

  /** True while the fallback poll runs. */
  get polling(): boolean {
    return this.pollHandle !== null;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.stopPolling();
    await this.stream.stop();
    this.statusEmitter.clear();
    this.eventEmitter.clear();
    this.syncedEmitter.clear();
    this.resyncEmitter.clear();
  }

  private updatePolling(): void {
    // Not while connected (events keep the tree live), stopped, or refused (the same token would be refused again).
    const want = !this.disposed && this.viewVisible && !['connected', 'stopped', 'failed'].includes(this.stream.status);
    if (want && this.pollHandle === null) this.schedulePoll();
    else if (!want) this.stopPolling();
  }

  private schedulePoll(): void {
    this.pollHandle = this.timers.setTimeout(() => {
      this.pollHandle = null;
      void this.store
        .refetch(this.client)
        .then(() => this.syncedEmitter.fire())
        .catch((err: unknown) => this.log('trace', `poll failed: ${(err as Error).message}`))
        .finally(() => this.updatePolling());
    }, this.pollIntervalMs);
  }

  private stopPolling(): void {
    if (this.pollHandle !== null) this.timers.clearTimeout(this.pollHandle);
    this.pollHandle = null;
  }
}
