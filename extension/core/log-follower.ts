/**
 * Follows one process's log stream (SSE `log` / `truncated` / `exit`) and resumes after a dropped
 * connection from the last event id seen, so the output channel gets every line exactly once.
 */
import { ErrorCode, STOP, SandboxError, FollowHandle, describeExit, eventData, followSse, type LogStreamEvent, type SseMessage } from '../../worker/protocol/index';
import { Backoff } from './backoff';
import { realTimers, sleep, type Timers } from '../../worker/protocol/timers';

/** Where each process's stream stopped: the last SSE id, per `${sandboxId}/${processId}`. */
export class LogCursors {
  private readonly ids = new Map<string, string>();
  private readonly ended = new Set<string>();

  static key(sandboxId: string, processId: string): string {
    return `${sandboxId}/${processId}`;
  }

  get(key: string): string | undefined {
    return this.ids.get(key);
  }

  advance(key: string, id: string | undefined): void {
    if (id !== undefined) this.ids.set(key, id);
  }

  markEnded(key: string): void {
    this.ended.add(key);
  }

  hasEnded(key: string): boolean {
    return this.ended.has(key);
  }

  forget(key: string): void {
    this.ids.delete(key);
    this.ended.delete(key);
  }

  /** Forgets every process of a sandbox (it was destroyed). */
  forgetSandbox(sandboxId: string): void {
    for (const key of [...this.ids.keys(), ...this.ended]) if (key.startsWith(`${sandboxId}/`)) this.forget(key);
  }
}

export interface LogSink {
  /** Text as printed (stdout and stderr interleaved in order). */
  append(text: string): void;
  /** A line the extension adds (truncation marker, exit status, reconnect notes). */
  note(text: string): void;
}

export interface LogFollowerOptions {
  sandboxId: string;
  processId: string;
  path: string;
  openStream(path: string, lastEventId: string | undefined, signal: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  cursors: LogCursors;
  sink: LogSink;
  timers?: Timers;
  backoff?: Backoff;
  onError?(err: unknown): void;
}

/** Errors after which reconnecting cannot help: the process or sandbox is gone, or the token is wrong. */
function isFinal(err: unknown): boolean {
  return err instanceof SandboxError && (err.code === ErrorCode.PROCESS_NOT_FOUND || err.code === ErrorCode.SANDBOX_NOT_FOUND || err.code === ErrorCode.UNAUTHORIZED);
}

export class LogFollower {
  private readonly options: LogFollowerOptions;
  private readonly key: string;
  private readonly timers: Timers;
  private readonly backoff: Backoff;
  private readonly follow = new FollowHandle((signal) => this.loop(signal));

  constructor(options: LogFollowerOptions) {
    this.options = options;
    this.key = LogCursors.key(options.sandboxId, options.processId);
    this.timers = options.timers ?? realTimers;
    this.backoff = options.backoff ?? new Backoff({ baseMs: 250, maxMs: 10_000 });
  }

  get active(): boolean {
    return this.follow.active;
  }

  /** Starts (or resumes) following; a no-op while already following or after the exit event. */
  start(): void {
    if (this.options.cursors.hasEnded(this.key)) return;
    this.follow.start();
  }

  async stop(): Promise<void> {
    await this.follow.stop();
  }

  /** Resolves when following stops by itself (exit event or a final error). */
  done(): Promise<void> {
    return this.follow.done();
  }

  private loop(signal: AbortSignal): Promise<void> {
    const { cursors, sink } = this.options;
    let resumed = false;
    return followSse({
      signal,
      lastEventId: () => cursors.get(this.key),
      open: (last, s) => this.options.openStream(this.options.path, last, s),
      onOpen: () => {
        if (resumed) this.backoff.reset();
      },
      onMessage: (msg) => {
        this.handle(msg);
        // The exit event ends the log: nothing more will come.
        return cursors.hasEnded(this.key) ? STOP : undefined;
      },
      onDrop: (err) => {
        if (cursors.hasEnded(this.key)) return STOP;
        if (err !== undefined) this.options.onError?.(err);
        if (isFinal(err)) {
          cursors.markEnded(this.key);
          sink.note(`[log stream ended: ${(err as Error).message}]`);
          return STOP;
        }
        resumed = true;
        return this.backoff.next();
      },
      sleep: (ms, s) => sleep(this.timers, ms, s),
    });
  }

  private handle(msg: SseMessage): void {
    const { cursors, sink } = this.options;
    const data = eventData<object>(msg);
    if (!data) return;
    const event = { type: msg.event, ...data } as LogStreamEvent;
    if (event.type === 'log') sink.append(event.data);
    else if (event.type === 'truncated') sink.note(`[… ${event.dropped} bytes of older output were dropped …]`);
    else if (event.type === 'exit') {
      const how = event.reason ? describeExit(event) : `${event.status}${event.exitCode !== null && event.exitCode !== undefined ? ` with exit code ${event.exitCode}` : ''}`;
      sink.note(`[process ${how}]`);
      cursors.markEnded(this.key);
    }
    cursors.advance(this.key, msg.id);
  }
}
