/** The Sandbox Durable Object's exposure store (issue 12 point 1) on a Map, as plain Node runs it. */
import assert from 'node:assert/strict';
import { ExposureStore, type SyncKv } from '../../worker/sandbox/exposure-store';
import type { Exposure } from '../../worker/sandbox/exposures';

/** The four KV calls over a Map, counting reads so the cache can be checked. */
class MapKv implements SyncKv {
  readonly data = new Map<string, unknown>();
  reads = 0;
  get(key: string): unknown {
    this.reads++;
    return structuredClone(this.data.get(key));
  }
  put(key: string, value: unknown): void {
    this.data.set(key, structuredClone(value));
  }
  delete(key: string): boolean {
    return this.data.delete(key);
  }
  *list(options: { prefix: string }): Iterable<[string, unknown]> {
    for (const [k, v] of [...this.data]) if (k.startsWith(options.prefix)) yield [k, v];
  }
}

const exposure = (port: number, extra: Partial<Exposure> = {}): Exposure => ({
  port,
  token: `tok${port}`,
  custom: false,
  hostname: 'localhost:8787',
  visibility: 'public',
  createdAt: '2026-01-01T00:00:00.000Z',
  generation: 1,
  ...extra,
});
const TICKET = 'abcdefghijklmnop1234';

describe('exposure store', () => {
  it('saves exposures, reads storage once, and hands out copies', () => {
    const kv = new MapKv();
    const store = new ExposureStore(kv);
    store.save({ '8080': exposure(8080) });
    const reads = kv.reads;
    assert.equal(store.get(8080)?.token, 'tok8080');
    assert.equal(kv.reads, reads, 'served from memory after a save');
    const copy = store.all();
    delete copy['8080'];
    assert.ok(store.get(8080), 'changing a copy changes nothing until it is saved');
    const fresh = new ExposureStore(kv);
    assert.equal(fresh.get(8080)?.token, 'tok8080', 'another instance reads what was stored');
  });

  it('a new run bumps the generation and replaces generated tokens only', () => {
    const kv = new MapKv();
    const store = new ExposureStore(kv);
    // Both from the run before (generation 0); only the generated token is replaced.
    store.save({ '8080': exposure(8080, { generation: 0 }), '9000': exposure(9000, { token: 'mine', custom: true, generation: 0 }) });
    assert.equal(store.generation(), 0);
    let n = 0;
    const rotated = store.startRun(() => `new${++n}`);
    assert.equal(store.generation(), 1);
    assert.deepEqual(
      rotated.map((e) => [e.port, e.token]),
      [[8080, 'new1']],
    );
    assert.equal(store.get(9000)?.token, 'mine');
    assert.equal(new ExposureStore(kv).get(8080)?.token, 'new1', 'stored, not only cached');
  });

  it('removes an exposure only when the check says so', () => {
    const store = new ExposureStore(new MapKv());
    store.save({ '8080': exposure(8080) });
    assert.equal(
      store.removeIf(8080, (e) => e.token === 'tok8080'),
      false,
    );
    assert.equal(
      store.removeIf(8080, () => false),
      true,
    );
    assert.equal(store.get(8080), undefined);
    assert.equal(
      store.removeIf(8080, () => false),
      false,
    );
  });

  it('tickets: single use, for that exposure only, until they expire; expired ones are swept', () => {
    const kv = new MapKv();
    const store = new ExposureStore(kv);
    const e = exposure(8080);
    store.createTicket(e, TICKET, 1000, 60_000);
    assert.equal(store.consumeTicket(TICKET, exposure(8080, { token: 'other' }), 2000), false, 'another token');
    store.createTicket(e, TICKET, 1000, 60_000);
    assert.equal(store.consumeTicket(TICKET, e, 2000), true);
    assert.equal(store.consumeTicket(TICKET, e, 2000), false, 'used once');
    store.createTicket(e, TICKET, 1000, 60_000);
    assert.equal(store.consumeTicket(TICKET, e, 61_001), false, 'expired');
    assert.equal(store.consumeTicket('short', e, 2000), false, 'malformed ids are refused before storage');
    store.createTicket(e, 'old-ticket-000000000', 0, 10);
    store.createTicket(e, 'new-ticket-000000000', 100, 10);
    assert.deepEqual(
      [...kv.data.keys()].filter((k) => k.startsWith('ticket:')),
      ['ticket:new-ticket-000000000'],
    );
  });

  it('clear drops exposures and tickets but keeps the generation', () => {
    const kv = new MapKv();
    const store = new ExposureStore(kv);
    store.save({ '8080': exposure(8080) });
    store.startRun(() => 'x');
    store.createTicket(exposure(8080), TICKET, 0, 60_000);
    store.clear();
    assert.equal(store.get(8080), undefined);
    assert.deepEqual([...kv.data.keys()], ['generation']);
    assert.equal(store.generation(), 1);
  });
});
