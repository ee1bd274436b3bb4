/** Fakes for the extension/core unit tests: scripted SSE bodies, a manual clock, a recording fetch. */
import type { Timers } from '../../worker/protocol/timers';
import type { ControlEvent, ControlEventBody, ProcessInfo, SandboxState } from '../../worker/protocol/index';

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

let nextId = 1;
export function ev(body: ControlEventBody): ControlEvent {
  return { ...body, id: nextId++, time: '2026-01-01T00:00:10.000Z' } as ControlEvent;
}

export function proc(id: string, status: ProcessInfo['status'] = 'running', extra: Partial<ProcessInfo> = {}): ProcessInfo {
  return { id, pid: 100, command: `node ${id}.js`, status, startTime: '2026-01-01T00:00:00.000Z', cwd: '/workspace', ...extra };
}

export function box(id: string, extra: Partial<SandboxState> = {}): SandboxState {
  return { id, status: 'running', createdAt: '2026-01-01T00:00:00.000Z', processes: [], ports: [], detectedPorts: [], tunnels: [], ...extra };
}
