/**
 * Where a sandbox keeps its exposures, the container-run generation their generated tokens belong
 * to, and private-preview tickets, over the Durable Object's synchronous KV storage. It depends on
 * the four KV calls it uses (`SyncKv`), so plain Node tests run it on a Map. The rules for what
 * an expose changes stay in exposures.ts; this is storage, a read cache and ticket bookkeeping.
 */
import { rotateGeneratedTokens, type Exposure, type ExposureMap } from './exposures';

/** The part of `ctx.storage.kv` the store uses. */
export interface SyncKv {
  get(key: string): unknown;
  put(key: string, value: unknown): void;
  delete(key: string): unknown;
  list(options: { prefix: string }): Iterable<[string, unknown]>;
}

const EXPOSURES_KEY = 'exposures';
/** Counts container runs; generated preview tokens belong to one run. */
const GENERATION_KEY = 'generation';
const TICKET_PREFIX = 'ticket:';
const TICKET_ID = /^[A-Za-z0-9_-]{16,64}$/;

interface Ticket {
  port: number;
  token: string;
  expiresAt: number;
}

export class ExposureStore {
  private readonly kv: SyncKv;
  /** The kept exposures: read from storage once, then served from memory (the preview hot path). */
  private cache: ExposureMap | undefined;

  constructor(kv: SyncKv) {
    this.kv = kv;
  }

  generation(): number {
    return (this.kv.get(GENERATION_KEY) as number | undefined) ?? 0;
  }

  /**
   * A new container run: the generation goes up and generated tokens of earlier runs are replaced
   * (custom ones keep their URL). Answers the exposures whose URL changed.
   */
  startRun(newToken: () => string): Exposure[] {
    const generation = this.generation() + 1;
    this.kv.put(GENERATION_KEY, generation);
    const { next, rotated } = rotateGeneratedTokens(this.all(), generation, newToken);
    if (rotated.length > 0) this.save(next);
    return rotated;
  }

  /** A copy of the exposures, for callers that change them and save. */
  all(): ExposureMap {
    return { ...this.map() };
  }

  get(port: number): Exposure | undefined {
    return this.map()[String(port)];
  }

  save(map: ExposureMap): void {
    this.kv.put(EXPOSURES_KEY, map);
    this.cache = { ...map };
  }

  /** Removes one exposure when it is still the one with this token; true when it did. */
  removeIf(port: number, keep: (e: Exposure) => boolean): boolean {
    const map = this.all();
    const e = map[String(port)];
    if (!e || keep(e)) return false;
    delete map[String(port)];
    this.save(map);
    return true;
  }

  /** A single-use ticket for a private preview; expired tickets are dropped on the way. */
  createTicket(e: Exposure, id: string, now: number, ttlMs: number): number {
    for (const [key, t] of this.kv.list({ prefix: TICKET_PREFIX })) {
      if ((t as Ticket).expiresAt <= now) this.kv.delete(key);
    }
    const expiresAt = now + ttlMs;
    this.kv.put(`${TICKET_PREFIX}${id}`, { port: e.port, token: e.token, expiresAt } satisfies Ticket);
    return expiresAt;
  }

  /** True once for a live ticket of this exposure; a ticket is gone after its first use, valid or not. */
  consumeTicket(id: string, e: Exposure, now: number): boolean {
    if (!TICKET_ID.test(id)) return false;
    const key = `${TICKET_PREFIX}${id}`;
    const t = this.kv.get(key) as Ticket | undefined;
    if (!t) return false;
    this.kv.delete(key);
    return t.port === e.port && t.token === e.token && t.expiresAt > now;
  }

  /** The sandbox was destroyed: its exposures and tickets go (the generation stays, so old tokens never come back). */
  clear(): void {
    this.kv.delete(EXPOSURES_KEY);
    this.cache = undefined;
    for (const [key] of this.kv.list({ prefix: TICKET_PREFIX })) this.kv.delete(key);
  }

  private map(): ExposureMap {
    return (this.cache ??= (this.kv.get(EXPOSURES_KEY) as ExposureMap | undefined) ?? {});
  }
}
