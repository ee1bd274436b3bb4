/**
 * The traffic inspector's records: for each exposed port of this sandbox, the most recent requests
 * through its preview URL, bounded in number and in bytes (the oldest go first). In the Durable
 * Object's memory: gone with the exposure, with the sandbox, and never in the registry. No I/O.
 *
 * Bodies are kept as the bytes that passed and turned into text only when someone reads an entry:
 * a busy exposure costs no decoding, and the bounds count what memory really holds.
 */
import { TRAFFIC_BYTES_PER_EXPOSURE, TRAFFIC_ENTRIES, type PortTraffic, type TrafficEntry, type TrafficSummary } from '../../protocol/index';
import { describeBody, type Captured } from './body-capture';
import { headerValue, unpackHeaders } from './packed-headers';

/**
 * An entry as the log holds it (a finished Recording is one): headers packed (packed-headers.ts),
 * bodies still bytes (null: none), typed by their headers when read. `seq` and `bytes` are the
 * log's own: its place in finishing order and what it counts against the bounds.
 */
export interface StoredEntry extends Pick<TrafficSummary, 'id' | 'port' | 'method' | 'path' | 'status' | 'answeredBy' | 'code' | 'ttfbMs' | 'totalMs' | 'replayOf' | 'websocket'> {
  /** When the request arrived (ms since the epoch): written out only when read (it costs a few µs). */
  at: number;
  requestHeaders: string;
  responseHeaders: string;
  /** As captured (body-capture.ts): its first bytes and what is needed to describe them later. */
  requestBody: Captured | null;
  responseBody: Captured | null;
  redacted: readonly string[];
  seq: number;
  bytes: number;
}

/**
 * What a follower is told: an entry finished (at `position`, the stream's event id), the records
 * were cleared or started over (fetch the list again; `position` is where things stand now), or
 * the exposure ended.
 */
export type TrafficNews = { entry: StoredEntry; position: string } | { reset: string } | { ended: true };

/**
 * Where a follower stands: `{epoch}.{seq}`. The epoch is new for each ring and each clear (and
 * random per Durable Object instance), so a position from before a clear, an unexpose, or a restart
 * of the object never passes for one of now.
 */
const EPOCH_BASE = Math.floor(Math.random() * 36 ** 4).toString(36);
let epochs = 0;
function newEpoch(): string {
  return `${EPOCH_BASE}${(++epochs).toString(36)}`;
}

/**
 * An exposure's records. Entries are in finishing order (their `seq`): ids follow arrival, but a
 * long request finishes after later ones, and a follower resumes by finishing order, so nothing
 * finished while it was away is missed.
 */
interface Ring {
  entries: StoredEntry[];
  bytes: number;
  nextId: number;
  epoch: string;
  /** Entries finished in this epoch (the last one's `seq`; the tree's count of requests). */
  finished: number;
  /** The newest finished request (its status and time are the tree's figure, with `finished`). */
  last?: StoredEntry;
  followers: Set<(news: TrafficNews) => void>;
}

const NO_BODY = { size: 0, kind: 'none', truncated: false } as const;

/** An entry as the API answers it: headers unpacked, bodies described (text decoded, or binary by size and type). */
export function materialize(e: StoredEntry): TrafficEntry {
  const requestHeaders = unpackHeaders(e.requestHeaders);
  const responseHeaders = unpackHeaders(e.responseHeaders);
  const body = (b: Captured | null, headers: [string, string][]) =>
    b ? describeBody(b.head, b.size, headerValue(headers, 'content-type'), b.complete, b.sizeUnknown) : { ...NO_BODY };
  return {
    ...summaryOf(e),
    requestHeaders,
    responseHeaders,
    requestBody: body(e.requestBody, requestHeaders),
    responseBody: body(e.responseBody, responseHeaders),
    redacted: [...e.redacted],
  };
}

/** The list's part of an entry (and the stream's), its time written out. */
export function summaryOf(e: StoredEntry): TrafficSummary {
  const s: TrafficSummary = {
    id: e.id,
    port: e.port,
    time: new Date(e.at).toISOString(),
    method: e.method,
    path: e.path,
    status: e.status,
    answeredBy: e.answeredBy,
    ttfbMs: e.ttfbMs,
    totalMs: e.totalMs,
    bytesIn: e.requestBody?.size ?? 0,
    bytesOut: e.responseBody?.size ?? 0,
  };
  if (e.code) s.code = e.code;
  if (e.responseBody?.endUnseen) s.endUnseen = true;
  if (e.replayOf !== undefined) s.replayOf = e.replayOf;
  if (e.websocket) s.websocket = { ...e.websocket };
  const error = e.responseBody?.error ?? e.requestBody?.error;
  if (error) s.error = error;
  return s;
}

/** About what an entry holds: its bodies' bytes, its headers and its path, and a fixed part for the rest. */
export function entryBytes(e: StoredEntry): number {
  return 512 + (e.requestBody?.head.byteLength ?? 0) + (e.responseBody?.head.byteLength ?? 0) + e.path.length + e.requestHeaders.length + e.responseHeaders.length;
}

/**
 * How long a finished request's entry may wait to be made while someone follows the records live
 * (an open inspector); all that finish meanwhile share one timer (a timer costs about as much as
 * making a few entries). Any read makes them first.
 */
export const MAKE_WITHIN_MS = 20;
/**
 * The same while no one follows: only the tree's count waits on them, and it goes out at most once
 * a second (traffic-tally.ts), so a longer wait shows nothing later and needs fewer timers.
 */
export const MAKE_UNFOLLOWED_WITHIN_MS = 250;
/** Past this many waiting, they are made at once: what waits stays bounded under any load. */
const MAX_WAITING = 64;

/** A finished request whose entry is still to be made (a Recording). */
export interface Pending {
  make(): void;
}

export class TrafficLog {
  private readonly rings = new Map<number, Ring>();
  private waiting: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Followers over all ports (they want entries within MAKE_WITHIN_MS). */
  private following = 0;

  /**
   * `onTally`: a port's count or last status changed (the tree's figure; the caller throttles).
   */
  constructor(
    private readonly maxEntries = TRAFFIC_ENTRIES,
    private readonly maxBytes = TRAFFIC_BYTES_PER_EXPOSURE,
    private readonly onTally?: (port: number) => void,
  ) {}

  /**
   * Runs `entry.make()` (which makes a finished request's entry and adds it) off the answer's
   * path: made at once, it held each small answer back by about 0.1 ms (measured). Within
   * MAKE_WITHIN_MS when followed (MAKE_UNFOLLOWED_WITHIN_MS when not), and before anything reads
   * this log, so a list, an entry or a count asked for after a request ended always has it.
   */
  later(entry: Pending): void {
    this.waiting.push(entry);
    if (this.waiting.length >= MAX_WAITING) this.settle();
    else this.timer ??= setTimeout(() => this.settle(), this.following > 0 ? MAKE_WITHIN_MS : MAKE_UNFOLLOWED_WITHIN_MS);
  }

  /** Makes every waiting entry now. */
  private settle(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const todo = this.waiting;
    this.waiting = [];
    for (const entry of todo) entry.make();
  }

  /** Before any read: what finished is in the log. */
  private current(): void {
    if (this.waiting.length > 0) this.settle();
  }

  private ring(port: number): Ring {
    let r = this.rings.get(port);
    if (!r) {
      r = { entries: [], bytes: 0, nextId: 1, epoch: newEpoch(), finished: 0, followers: new Set() };
      this.rings.set(port, r);
    }
    return r;
  }

  /**
   * A request arrives: its id (ids count up per exposure, in arrival order) and the epoch it belongs
   * to, which add() checks.
   */
  begin(port: number): { id: number; epoch: string } {
    const r = this.ring(port);
    return { id: r.nextId++, epoch: r.epoch };
  }

  /**
   * A finished request: kept (the oldest leave to make room) and told to followers. One that began
   * before its exposure ended or its records were cleared is not kept: it belongs to what is gone.
   */
  add(entry: StoredEntry, epoch: string): void {
    const r = this.rings.get(entry.port);
    if (!r || r.epoch !== epoch) return;
    const seq = ++r.finished;
    entry.seq = seq;
    entry.bytes = entryBytes(entry);
    r.entries.push(entry);
    r.bytes += entry.bytes;
    r.last = entry;
    while (r.entries.length > this.maxEntries || (r.bytes > this.maxBytes && r.entries.length > 1)) {
      r.bytes -= r.entries.shift()!.bytes;
    }
    if (r.followers.size > 0) for (const f of r.followers) f({ entry, position: `${r.epoch}.${seq}` });
    this.onTally?.(entry.port);
  }

  /** Newest first (by id: arrival), at most `limit`, older than `before` when given. */
  list(port: number, { limit, before }: { limit: number; before?: number }): TrafficSummary[] {
    this.current();
    const entries = (this.rings.get(port)?.entries ?? []).filter((e) => before === undefined || e.id < before);
    entries.sort((a, b) => b.id - a.id);
    return entries.slice(0, limit).map(summaryOf);
  }

  get(port: number, id: number): TrafficEntry | undefined {
    this.current();
    const found = this.rings.get(port)?.entries.find((e) => e.id === id);
    return found ? materialize(found) : undefined;
  }

  /** Where a follower starting now stands on `port` (an SSE id: `{epoch}.{seq}`). */
  position(port: number): string {
    this.current();
    const r = this.ring(port);
    return `${r.epoch}.${r.finished}`;
  }

  /**
   * Entries finished after `position`, in that order, each with its own; null when the position is
   * not one of this ring's epoch (cleared, started over, malformed) or some of it is no longer kept.
   */
  since(port: number, position: string): { entry: StoredEntry; position: string }[] | null {
    this.current();
    const r = this.rings.get(port);
    const m = /^([0-9a-z]{1,16})\.(\d{1,15})$/.exec(position);
    if (!r || !m || m[1] !== r.epoch) return null;
    const after = Number(m[2]);
    if (after > r.finished) return null;
    const first = r.entries[0];
    if (first && after < first.seq - 1) return null;
    return r.entries.filter((e) => e.seq > after).map((e) => ({ entry: e, position: `${r.epoch}.${e.seq}` }));
  }

  /** How many requests came (since the exposure began or was cleared), and the last one's status. */
  tally(port: number): PortTraffic | undefined {
    this.current();
    const r = this.rings.get(port);
    if (!r) return undefined;
    return { requests: r.finished, ...(r.last ? { lastStatus: r.last.status, lastTime: new Date(r.last.at).toISOString() } : {}) };
  }

  /**
   * Forgets the port's records and starts a new epoch (its followers fetch the list again). Ids go
   * on counting, so no request id names two requests. Also when the exposure changes whether it is
   * inspected: the list then says so.
   */
  clear(port: number): void {
    const r = this.rings.get(port);
    if (!r) return;
    r.entries = [];
    r.bytes = 0;
    delete r.last;
    r.epoch = newEpoch();
    r.finished = 0;
    for (const f of r.followers) f({ reset: `${r.epoch}.0` });
    this.onTally?.(port);
  }

  /** The exposure ended: its records go, and its followers are told. */
  drop(port: number): void {
    const r = this.rings.get(port);
    if (!r) return;
    this.rings.delete(port);
    for (const f of r.followers) f({ ended: true });
  }

  /** The sandbox is gone: every record goes. */
  dropAll(): void {
    for (const port of [...this.rings.keys()]) this.drop(port);
  }

  follow(port: number, fn: (news: TrafficNews) => void): () => void {
    // What waits on the longer timer is made now: from here on a follower hears within MAKE_WITHIN_MS.
    this.current();
    const r = this.ring(port);
    if (!r.followers.has(fn)) this.following++;
    r.followers.add(fn);
    return () => {
      if (r.followers.delete(fn)) this.following--;
    };
  }

  /** Entries kept over all ports, and their bytes as counted against the bounds. */
  get size(): { entries: number; bytes: number } {
    this.current();
    let entries = 0;
    let bytes = 0;
    for (const r of this.rings.values()) {
      entries += r.entries.length;
      bytes += r.bytes;
    }
    return { entries, bytes };
  }
}
