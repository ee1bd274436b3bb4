/**
 * The Registry Durable Object (a single instance): the list of sandboxes — the platform cannot
 * list Durable Objects — and the control API's event stream: a bounded, persisted event log that
 * every change is appended to and every connected client is sent, resumable by event id.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env';
import {
  CONTROL_EVENT_NAME,
  HELLO_EVENT_NAME,
  RESET_EVENT_NAME,
  SSE_KEEPALIVE,
  formatSse,
  type ControlEvent,
  type ControlEventBody,
  type SandboxStatus,
  type SandboxSummary,
} from '../protocol/index';

/** Events kept for resuming clients; older ones are dropped and such clients get a reset. */
const HISTORY = 5000;
const KEEPALIVE_MS = 15_000;
/** A client this many writes behind is dropped rather than buffered without end. */
const MAX_PENDING_WRITES = 2000;

interface Subscriber {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  pending: number;
}

export class Registry extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly subscribers = new Set<Subscriber>();
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private readonly encoder = new TextEncoder();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS sandboxes (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, status TEXT NOT NULL)`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`);
  }

  register(id: string, createdAt: string): void {
    this.sql.exec(`INSERT OR IGNORE INTO sandboxes (id, created_at, status) VALUES (?, ?, 'stopped')`, id, createdAt);
  }

  setStatus(id: string, status: SandboxStatus): void {
    this.sql.exec(`UPDATE sandboxes SET status = ? WHERE id = ?`, status, id);
  }

  unregister(id: string): void {
    this.sql.exec(`DELETE FROM sandboxes WHERE id = ?`, id);
  }

  /** Which of `ids` name sandboxes that exist (the preview proxy asks before it wakes any). */
  known(ids: string[]): string[] {
    if (ids.length === 0) return [];
    const marks = ids.map(() => '?').join(',');
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM sandboxes WHERE id IN (${marks})`, ...ids)
      .toArray()
      .map((r) => r.id);
  }

  list(): SandboxSummary[] {
    return this.sql
      .exec<{ id: string; created_at: string; status: string }>(`SELECT id, created_at, status FROM sandboxes ORDER BY id`)
      .toArray()
      .map((r) => ({ id: r.id, createdAt: r.created_at, status: r.status as SandboxStatus }));
  }

  publish(body: ControlEventBody): number {
    const time = new Date().toISOString();
    const text = JSON.stringify({ ...body, time });
    const id = this.sql.exec<{ id: number }>(`INSERT INTO events (body) VALUES (?) RETURNING id`, text).one().id;
    this.sql.exec(`DELETE FROM events WHERE id <= ?`, id - HISTORY);
    const event = { ...body, time, id } as ControlEvent;
    this.broadcast(formatSse({ id: String(id), event: CONTROL_EVENT_NAME, data: JSON.stringify(event) }));
    return id;
  }

  /** GET /events (forwarded by the router): the SSE stream, resumed after Last-Event-ID. */
  override async fetch(request: Request): Promise<Response> {
    const lastRaw = request.headers.get('last-event-id') ?? new URL(request.url).searchParams.get('lastEventId');
    const last = lastRaw && /^\d{1,15}$/.test(lastRaw) ? Number(lastRaw) : null;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const sub: Subscriber = { writer: writable.getWriter(), pending: 0 };
    const newest = this.sql.exec<{ id: number | null }>(`SELECT MAX(id) AS id FROM events`).one().id ?? 0;
    const oldest = this.sql.exec<{ id: number | null }>(`SELECT MIN(id) AS id FROM events`).one().id ?? newest + 1;
    let head = formatSse({ event: HELLO_EVENT_NAME, data: JSON.stringify({ lastEventId: newest }) });
    if (last !== null) {
      if (last < oldest - 1 || last > newest) {
        head += formatSse({ event: RESET_EVENT_NAME, data: JSON.stringify({ lastEventId: newest }) });
      } else {
        for (const row of this.sql.exec<{ id: number; body: string }>(`SELECT id, body FROM events WHERE id > ? ORDER BY id`, last)) {
          const event = { ...JSON.parse(row.body), id: row.id };
          head += formatSse({ id: String(row.id), event: CONTROL_EVENT_NAME, data: JSON.stringify(event) });
        }
      }
    }
    this.send(sub, head);
    this.subscribers.add(sub);
    this.ensureKeepalive();
    return new Response(readable, {
      headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
    });
  }

  private broadcast(text: string): void {
    for (const sub of this.subscribers) this.send(sub, text);
  }

  private send(sub: Subscriber, text: string): void {
    if (sub.pending >= MAX_PENDING_WRITES) {
      this.drop(sub);
      return;
    }
    sub.pending++;
    sub.writer.write(this.encoder.encode(text)).then(
      () => void sub.pending--,
      () => this.drop(sub),
    );
  }

  private drop(sub: Subscriber): void {
    if (!this.subscribers.delete(sub)) return;
    sub.writer.abort().catch(() => {});
    if (this.subscribers.size === 0 && this.keepalive) {
      clearInterval(this.keepalive);
      this.keepalive = null;
    }
  }

  private ensureKeepalive(): void {
    if (this.keepalive) return;
    this.keepalive = setInterval(() => this.broadcast(SSE_KEEPALIVE), KEEPALIVE_MS);
  }
}
