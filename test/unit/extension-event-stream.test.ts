import assert from 'node:assert/strict';
import { Backoff } from '../../extension/core/backoff';
import { EventStream, type ResyncReason, type StreamStatusChange } from '../../extension/core/event-stream';
import { ErrorCode, SandboxError, type ControlEvent } from '../../worker/protocol/index';
import { ManualTimers, sse, sseBody, until } from './extension-fakes';

function change(id: number, port = 8000 + id): ControlEvent {
  return { id, time: '2026-01-01T00:00:00Z', type: 'port-closed', sandboxId: 'box', port };
}

function harness(bodies: Array<() => ReadableStream<Uint8Array>>) {
  const timers = new ManualTimers();
  const lastIds: (string | undefined)[] = [];
  const events: ControlEvent[] = [];
  const resyncs: ResyncReason[] = [];
  const statuses: StreamStatusChange[] = [];
  let n = 0;
  const stream = new EventStream({
    openStream: async (_path, last) => {
      lastIds.push(last);
      const make = bodies[Math.min(n++, bodies.length - 1)]!;
      return make();
    },
    onEvent: (e) => events.push(e),
    onResync: (r) => resyncs.push(r),
    onStatus: (s) => statuses.push(s),
    timers,
    backoff: new Backoff({ baseMs: 100, maxMs: 1000, random: () => 1 }),
  });
  return { stream, timers, lastIds, events, resyncs, statuses };
}

describe('EventStream', () => {
  describe('start', () => {
    it('asks for a full fetch on the first hello, then applies changes in order', async () => {
      const h = harness([() => sseBody([sse('hello', { lastEventId: 4 }), sse('change', change(5), 5), sse('change', change(6), 6)], false).body]);
      h.stream.start();
      await until(() => h.events.length === 2, 'two events');
      assert.deepEqual(h.resyncs, ['initial']);
      assert.deepEqual(
        h.events.map((e) => e.id),
        [5, 6],
      );
      assert.equal(h.stream.lastEventId, '6');
      assert.equal(h.stream.status, 'connected');
      await h.stream.stop();
    });

    it('reconnects with Last-Event-ID after the stream ends, without a second full fetch', async () => {
      const h = harness([
        () => sseBody([sse('hello', { lastEventId: 0 }), sse('change', change(1), 1)]).body,
        () => sseBody([sse('hello', { lastEventId: 3 }), sse('change', change(2), 2), sse('change', change(3), 3)], false).body,
      ]);
      h.stream.start();
      await until(() => h.timers.pending === 1, 'a reconnect timer');
      h.timers.fireAll();
      await until(() => h.events.length === 3, 'resumed events');
      assert.deepEqual(h.lastIds, [undefined, '1']);
      assert.deepEqual(h.resyncs, ['initial']);
      await h.stream.stop();
    });

    it('skips replayed events it already applied', async () => {
      const h = harness([
        () => sseBody([sse('hello', { lastEventId: 0 }), sse('change', change(1), 1), sse('change', change(2), 2)]).body,
        () => sseBody([sse('hello', { lastEventId: 3 }), sse('change', change(2), 2), sse('change', change(3), 3)], false).body,
      ]);
      h.stream.start();
      await until(() => h.timers.pending === 1, 'a reconnect timer');
      h.timers.fireAll();
      await until(() => h.events.length === 3, 'three events');
      assert.deepEqual(
        h.events.map((e) => e.id),
        [1, 2, 3],
      );
      await h.stream.stop();
    });

    it('refetches when the Worker says reset (our position is gone)', async () => {
      const h = harness([
        () => sseBody([sse('hello', { lastEventId: 0 }), sse('change', change(9), 9)]).body,
        () => sseBody([sse('hello', { lastEventId: 2 }), sse('reset', { lastEventId: 2 }), sse('change', change(3), 3)], false).body,
      ]);
      h.stream.start();
      await until(() => h.timers.pending === 1, 'a reconnect timer');
      h.timers.fireAll();
      await until(() => h.events.length === 2, 'the event after the reset');
      assert.deepEqual(h.resyncs, ['initial', 'reset']);
      assert.equal(h.stream.lastEventId, '3');
      await h.stream.stop();
    });

    it('backs off exponentially while the Worker is down, and starts over after a hello', async () => {
      const down = () => {
        throw new SandboxError(ErrorCode.AGENT_UNREACHABLE, 'Cannot reach the Worker');
      };
      const h = harness([down, down, down, () => sseBody([sse('hello', { lastEventId: 0 })]).body, down]);
      h.stream.start();
      for (let i = 0; i < 4; i++) {
        await until(() => h.timers.pending === 1, `retry ${i}`);
        h.timers.fireAll();
      }
      await until(() => h.timers.pending === 1, 'the retry after the hello');
      // random() = 1 gives the ceiling: 100, 200, 400; the hello resets it → 100, 200 again.
      assert.deepEqual(h.timers.delays, [100, 200, 400, 100, 200]);
      assert.ok(h.statuses.some((s) => s.status === 'waiting' && s.retryInMs === 200));
      await h.stream.stop();
    });

    it('stops retrying and reports failed when the token is refused', async () => {
      const h = harness([
        () => {
          throw new SandboxError(ErrorCode.UNAUTHORIZED, 'Missing or wrong bearer token');
        },
      ]);
      h.stream.start();
      await until(() => h.stream.status === 'failed', 'failed');
      assert.equal(h.timers.pending, 0);
    });
  });

  describe('Backoff', () => {
    it('keeps half the delay fixed and jitters the other half, up to the maximum', () => {
      const low = new Backoff({ baseMs: 1000, maxMs: 4000, random: () => 0 });
      assert.deepEqual([low.next(), low.next(), low.next(), low.next()], [500, 1000, 2000, 2000]);
      const high = new Backoff({ baseMs: 1000, maxMs: 4000, random: () => 0.999999 });
      assert.deepEqual([high.next(), high.next(), high.next(), high.next()], [1000, 2000, 4000, 4000]);
    });
  });
});
