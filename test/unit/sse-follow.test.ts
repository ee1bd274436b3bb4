/** The one resumable SSE follower (issue 12 point 4) that the extension and the Durable Object share. */
import assert from 'node:assert/strict';
import { FollowHandle, STOP, followSse, readSse, type SseMessage } from '../../worker/protocol/index';

/** A body that delivers `text`, then ends or (fail) breaks like a reset connection. */
function body(text: string, fail = false): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(new TextEncoder().encode(text));
      } else if (fail) c.error(new Error('connection reset'));
      else c.close();
    },
  });
}
const noWait = async () => {};

describe('SSE follower', () => {
  it('readSse awaits async handlers in order, and STOP ends the read', async () => {
    const seen: string[] = [];
    const result = await readSse(body('id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n'), async (m) => {
      await new Promise((r) => setTimeout(r, m.data === 'a' ? 20 : 0));
      seen.push(m.data);
      return m.data === 'b' ? STOP : undefined;
    });
    assert.equal(result, STOP);
    assert.deepEqual(seen, ['a', 'b']);
  });

  it('reopens from the last id after a drop, asks onDrop each time, and stops when told', async () => {
    const opened: (string | undefined)[] = [];
    const drops: string[] = [];
    const streams = [body('id: 1\ndata: one\n\n', true), body('id: 2\ndata: two\n\n'), body('id: 3\nevent: end\ndata: x\n\n')];
    const messages: SseMessage[] = [];
    await followSse({
      signal: new AbortController().signal,
      open: async (last) => {
        opened.push(last);
        return streams.shift()!;
      },
      onMessage: (m) => {
        messages.push(m);
        return m.event === 'end' ? STOP : undefined;
      },
      onDrop: (err) => {
        drops.push(err === undefined ? 'ended' : (err as Error).message);
        return 5;
      },
      sleep: noWait,
    });
    assert.deepEqual(opened, [undefined, '1', '2']);
    assert.deepEqual(drops, ['connection reset', 'ended']);
    assert.deepEqual(
      messages.map((m) => m.data),
      ['one', 'two', 'x'],
    );
  });

  it("uses the owner's resume point when it keeps one, and onDrop STOP ends following", async () => {
    const opened: (string | undefined)[] = [];
    await followSse({
      signal: new AbortController().signal,
      lastEventId: () => 'cursor-7',
      open: async (last) => {
        opened.push(last);
        throw new Error('refused');
      },
      onMessage: () => {},
      onDrop: () => STOP,
      sleep: noWait,
    });
    assert.deepEqual(opened, ['cursor-7']);
  });

  it('FollowHandle runs one loop at a time and stop waits for it', async () => {
    let runs = 0;
    const handle = new FollowHandle(async (signal) => {
      runs++;
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    });
    handle.start();
    handle.start();
    assert.equal(runs, 1);
    assert.equal(handle.active, true);
    await handle.stop();
    assert.equal(handle.active, false);
    await handle.done();
  });
});
