/**
 * The traffic inspector's records: for each exposed port of this sandbox, the most recent requests
 * through its preview URL, bounded in number and in bytes (the oldest go first). In the Durable
 * Object's memory: gone with the exposure, with the sandbox, and never in the registry. No I/O.
 *
 * Bodies are kept as the bytes that passed and turned into text only when someone reads an entry:
 * a busy exposure costs no decoding, and the bounds count what memory really holds.
 */
import { TRAFFIC_BYTES_PER_EXPOSURE, TRAFFIC_ENTRIES, summarize, type PortTraffic, type TrafficEntry, type TrafficSummary } from '../../protocol/index';
import { describeBody } from './body-capture';

/** A body as the log holds it: its first bytes, and what is needed to describe them later. */
export interface KeptBody {
  head: Uint8Array;
  size: number;
  contentType: string | null;
  complete: boolean;
  sizeUnknown?: true;
}

/** An entry as the log holds it: a TrafficEntry whose bodies are still bytes (null: none). */
export type StoredEntry = Omit<TrafficEntry, 'requestBody' | 'responseBody'> & { requestBody: KeptBody | null; responseBody: KeptBody | null };

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
 * An entry and its place in finishing order. Ids follow arrival, but a long request finishes after
 * later ones: a follower resumes by finishing order, so nothing finished while it was away is missed.
 */
interface Kept {
  seq: number;
  entry: StoredEntry;
}

interface Ring {
  entries: Kept[];
  bytes: number;
  nextId: number;
  epoch: string;
  /** Entries finished in this epoch (the last one's `seq`; the tree's count of requests). */
  finished: number;
  /** The newest finished request's status (the tree's figure, with `finished`). */
  last?: { status: number; time: string };
  followers: Set<(news: TrafficNews) => void>;
}

const NO_BODY = { size: 0, kind: 'none', truncated: false } as const;

/** An entry as the API answers it: bodies described (text decoded, or binary by size and type). */
export function materialize(e: StoredEntry): TrafficEntry {
  const body = (b: KeptBody | null) => (b ? describeBody(b.head, b.size, b.contentType, b.complete, b.sizeUnknown) : { ...NO_BODY });
  return { ...e, requestBody: body(e.requestBody), responseBody: body(e.responseBody) };
}

/** About what an entry holds: its bodies' bytes, its headers and its path, and a fixed part for the rest. */
export function entryBytes(e: StoredEntry): number {
  const headers = (list: [string, string][]) => list.reduce((n, [k, v]) => n + k.length + v.length + 48, 0);
  return 512 + (e.requestBody?.head.byteLength ?? 0) + (e.responseBody?.head.byteLength ?? 0) + headers(e.requestHeaders) + headers(e.responseHeaders) + e.path.length;
}

export class TrafficLog {
  private readonly rings = new Map<number, Ring>();

  /**
   * `onTally`: a port's count or last status changed (the tree's figure; the caller throttles).
   */
  constructor(
    private readonly maxEntries = TRAFFIC_ENTRIES,
    private readonly maxBytes = TRAFFIC_BYTES_PER_EXPOSURE,
    private readonly onTally?: (port: number) => void,
  ) {}

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
    r.entries.push({ seq, entry });
    r.bytes += entryBytes(entry);
    r.last = { status: entry.status, time: entry.time };
    while (r.entries.length > this.maxEntries || (r.bytes > this.maxBytes && r.entries.length > 1)) {
      r.bytes -= entryBytes(r.entries.shift()!.entry);
    }
    for (const f of r.followers) f({ entry, position: `${r.epoch}.${seq}` });
    this.onTally?.(entry.port);
  }

  /** Newest first (by id: arrival), at most `limit`, older than `before` when given. */
  list(port: number, { limit, before }: { limit: number; before?: number }): TrafficSummary[] {
    const entries = (this.rings.get(port)?.entries ?? []).filter((k) => before === undefined || k.entry.id < before);
    entries.sort((a, b) => b.entry.id - a.entry.id);
    return entries.slice(0, limit).map((k) => summarize(k.entry));
  }

  get(port: number, id: number): TrafficEntry | undefined {
    const found = this.rings.get(port)?.entries.find((k) => k.entry.id === id);
    return found ? materialize(found.entry) : undefined;
  }

  /** Where a follower starting now stands on `port` (an SSE id: `{epoch}.{seq}`). */
  position(port: number): string {
    const r = this.ring(port);
    return `${r.epoch}.${r.finished}`;
  }

  /**
   * Entries finished after `position`, in that order, each with its own; null when the position is
   * not one of this ring's epoch (cleared, started over, malformed) or some of it is no longer kept.
   */
  since(port: number, position: string): { entry: StoredEntry; position: string }[] | null {
    const r = this.rings.get(port);
    const m = /^([0-9a-z]{1,16})\.(\d{1,15})$/.exec(position);
    if (!r || !m || m[1] !== r.epoch) return null;
    const after = Number(m[2]);
    if (after > r.finished) return null;
    const first = r.entries[0];
    if (first && after < first.seq - 1) return null;
    return r.entries.filter((k) => k.seq > after).map((k) => ({ entry: k.entry, position: `${r.epoch}.${k.seq}` }));
  }

  /** How many requests came (since the exposure began or was cleared), and the last one's status. */
  tally(port: number): PortTraffic | undefined {
    const r = this.rings.get(port);
    if (!r) return undefined;
    return { requests: r.finished, ...(r.last ? { lastStatus: r.last.status, lastTime: r.last.time } : {}) };
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
    const r = this.ring(port);
    r.followers.add(fn);
    return () => r.followers.delete(fn);
  }

  /** Entries kept over all ports, and their bytes as counted against the bounds. */
  get size(): { entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    for (const r of this.rings.values()) {
      entries += r.entries.length;
      bytes += r.bytes;
    }
    return { entries, bytes };
  }
}
