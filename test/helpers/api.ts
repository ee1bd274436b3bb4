/** A small control-API client for the tests: real HTTP to the real Worker. */
import { SseParser, type SseMessage } from '../../worker/protocol/index';

export interface ApiResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class Api {
  constructor(
    readonly url: string,
    readonly token: string | null,
  ) {}

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    let payload: BodyInit | undefined;
    if (typeof body === 'string' || body instanceof Uint8Array) payload = body as BodyInit;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] = 'application/json';
    }
    const res = await fetch(`${this.url}/api/v1${path}`, { method, body: payload, headers: h });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = text ? JSON.parse(text) : null;
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  /** Like call, but throws unless the status is 2xx; answers the body. */
  async ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.call<T>(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} → ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Opens an SSE stream; messages are collected as they arrive. */
  async stream(path: string, lastEventId?: string): Promise<SseStream> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const ac = new AbortController();
    const res = await fetch(`${this.url}/api/v1${path}`, { headers, signal: ac.signal });
    if (!res.ok || !res.body) throw new Error(`stream ${path} → ${res.status}: ${await res.text()}`);
    return new SseStream(res.body, ac);
  }
}

export class SseStream {
  readonly messages: (SseMessage & { at: number })[] = [];
  ended = false;
  private waiters: (() => void)[] = [];

  constructor(
    body: ReadableStream<Uint8Array>,
    private readonly ac: AbortController,
  ) {
    void this.pump(body);
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        const at = performance.now();
        for (const m of parser.push(decoder.decode(chunk, { stream: true }))) this.messages.push({ ...m, at });
        this.notify();
      }
    } catch {
      /* aborted */
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until a message satisfies `pred`, and answers it. */
  async waitFor(pred: (m: SseMessage) => boolean, timeoutMs = 15000): Promise<SseMessage & { at: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.ended) throw new Error(`stream ended without the expected message; got ${JSON.stringify(this.messages.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a stream message; got ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitForEnd(timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('stream did not end');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ac.abort();
  }
}

/** Events of the control stream, parsed. */
export function changeEvents(stream: SseStream): any[] {
  return stream.messages.filter((m) => m.event === 'change').map((m) => JSON.parse(m.data));
}
