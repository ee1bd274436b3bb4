/** Fakes for the extension/core unit tests: scripted SSE bodies, a manual clock, a recording fetch. */
import type { Timers } from '../../extension/core/timers';

/** A body that yields the given chunks, then stays open until close() (or ends at once when `end`). */
export function sseBody(chunks: string[], end = true): { body: ReadableStream<Uint8Array>; push(text: string): void; close(): void; error(err: Error): void } {
  const enc = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      for (const chunk of chunks) c.enqueue(enc.encode(chunk));
      if (end) c.close();
    },
  });
  return {
    body,
    push: (text) => controller.enqueue(enc.encode(text)),
    close: () => controller.close(),
    error: (err) => controller.error(err),
  };
}

export function sse(event: string, data: unknown, id?: number | string): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Timers that fire only when the test says so, recording the delays asked for. */
export class ManualTimers implements Timers {
  readonly delays: number[] = [];
  private queue = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;

  setTimeout(fn: () => void, ms: number): unknown {
    const handle = this.next++;
    this.delays.push(ms);
    this.queue.set(handle, { fn, ms });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.queue.delete(handle as number);
  }

  get pending(): number {
    return this.queue.size;
  }

  /** Runs every timer scheduled so far. */
  fireAll(): void {
    const due = [...this.queue.values()];
    this.queue.clear();
    for (const t of due) t.fn();
  }
}

/** Lets queued promise callbacks and stream reads run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export async function until(pred: () => boolean, what: string, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (pred()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}
