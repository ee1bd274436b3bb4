/**
 * The traffic inspector's records: for each exposed port of this sandbox, the most recent requests
 * through its preview URL, bounded in number and in bytes (the oldest go first). In the Durable
 * Object's memory: gone with the exposure, with the sandbox, and never in the registry. No I/O.
 */
import { TRAFFIC_BYTES_PER_EXPOSURE, TRAFFIC_ENTRIES, summarize, type TrafficEntry, type TrafficSummary } from '../../protocol/index';

/** What a finished entry tells a follower: the entry, or that the records were cleared. */
export type TrafficNews = { entry: TrafficEntry } | { cleared: true } | { ended: true };

interface Ring {
  entries: TrafficEntry[];
  bytes: number;
  nextId: number;
  followers: Set<(news: TrafficNews) => void>;
}

/** About what an entry holds: its bodies' text and its headers. */
export function entryBytes(e: TrafficEntry): number {
  const headers = (list: [string, string][]) => list.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  return 512 + (e.requestBody.text?.length ?? 0) + (e.responseBody.text?.length ?? 0) + headers(e.requestHeaders) + headers(e.responseHeaders) + e.path.length;
}

export class TrafficLog {
  private readonly rings = new Map<number, Ring>();

  constructor(
    private readonly maxEntries = TRAFFIC_ENTRIES,
    private readonly maxBytes = TRAFFIC_BYTES_PER_EXPOSURE,
  ) {}

  private ring(port: number): Ring {
    let r = this.rings.get(port);
    if (!r) {
      r = { entries: [], bytes: 0, nextId: 1, followers: new Set() };
      this.rings.set(port, r);
    }
    return r;
  }

  /** The id the next request to `port` gets (ids count up per exposure, in arrival order). */
  nextId(port: number): number {
    return this.ring(port).nextId++;
  }

  /** A finished request: kept (the oldest leave to make room) and told to followers. */
  add(entry: TrafficEntry): void {
    const r = this.ring(entry.port);
    r.entries.push(entry);
    r.bytes += entryBytes(entry);
    while (r.entries.length > this.maxEntries || (r.bytes > this.maxBytes && r.entries.length > 1)) {
      r.bytes -= entryBytes(r.entries.shift()!);
    }
    for (const f of r.followers) f({ entry });
  }

  /** Newest first, at most `limit`, older than `before` when given. */
  list(port: number, { limit, before }: { limit: number; before?: number }): TrafficSummary[] {
    const entries = this.rings.get(port)?.entries ?? [];
    const out: TrafficSummary[] = [];
    for (let i = entries.length - 1; i >= 0 && out.length < limit; i--) {
      const e = entries[i]!;
      if (before === undefined || e.id < before) out.push(summarize(e));
    }
    return out;
  }

  get(port: number, id: number): TrafficEntry | undefined {
    return this.rings.get(port)?.entries.find((e) => e.id === id);
  }

  /** Entries after `afterId` in order, or null when some of them are no longer kept. */
  since(port: number, afterId: number): TrafficEntry[] | null {
    const entries = this.rings.get(port)?.entries ?? [];
    const first = entries[0];
    const newest = entries.at(-1);
    if (newest && afterId > newest.id) return null;
    if (first && afterId < first.id - 1) return null;
    return entries.filter((e) => e.id > afterId);
  }

  /** Forgets the port's records (ids go on counting, so a follower never sees one twice). */
  clear(port: number): void {
    const r = this.rings.get(port);
    if (!r) return;
    r.entries = [];
    r.bytes = 0;
    for (const f of r.followers) f({ cleared: true });
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
