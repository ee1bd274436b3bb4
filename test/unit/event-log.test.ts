import assert from 'node:assert/strict';
import { EventLog } from '../../container/event-log';

describe('EventLog', () => {
  describe('since', () => {
    it('returns every kept event to a new client, and only newer ones to a resuming client', () => {
      const log = new EventLog<string>(10);
      for (const e of ['a', 'b', 'c']) log.append(e);
      assert.deepEqual(
        log.since(undefined).events.map((e) => e.event),
        ['a', 'b', 'c'],
      );
      assert.deepEqual(log.since(2), { events: [{ id: 3, event: 'c' }], reset: false });
      assert.deepEqual(log.since(3), { events: [], reset: false });
    });

    it('keeps only the newest events and says reset when the client is further behind', () => {
      const log = new EventLog<number>(3);
      for (let i = 1; i <= 10; i++) log.append(i);
      assert.deepEqual(
        log.since(undefined).events.map((e) => e.id),
        [8, 9, 10],
      );
      assert.equal(log.since(7).reset, false, 'id 7 is just before the oldest kept: nothing missed');
      assert.equal(log.since(5).reset, true);
    });

    it('says reset for an id from an earlier run (larger than any it issued)', () => {
      const log = new EventLog<string>(10);
      log.append('a');
      const r = log.since(500);
      assert.equal(r.reset, true);
      assert.deepEqual(
        r.events.map((e) => e.event),
        ['a'],
      );
    });
  });

  describe('subscribe', () => {
    it('delivers appended events until unsubscribed', () => {
      const log = new EventLog<string>();
      const seen: number[] = [];
      const off = log.subscribe((e) => seen.push(e.id));
      log.append('x');
      off();
      log.append('y');
      assert.deepEqual(seen, [1]);
      assert.equal(log.listenerCount, 0);
    });
  });
});
