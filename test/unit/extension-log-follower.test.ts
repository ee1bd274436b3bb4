import assert from 'node:assert/strict';
import { Backoff } from '../../extension/core/backoff';
import { LogCursors, LogFollower } from '../../extension/core/log-follower';
import { ErrorCode, SandboxError } from '../../worker/protocol/index';
import { ManualTimers, sse, sseBody, until } from './extension-fakes';

const log = (seq: number, data: string) => sse('log', { type: 'log', stream: 'stdout', data }, seq);

function follower(bodies: Array<() => ReadableStream<Uint8Array>>, cursors = new LogCursors()) {
  const timers = new ManualTimers();
  const lastIds: (string | undefined)[] = [];
  let text = '';
  let n = 0;
  const f = new LogFollower({
    sandboxId: 'box',
    processId: 'web',
    path: '/sandboxes/box/processes/web/logs/stream',
    openStream: async (_p, last) => {
      lastIds.push(last);
      return bodies[Math.min(n++, bodies.length - 1)]!();
    },
    cursors,
    sink: { append: (t) => (text += t), note: (t) => (text += `${t}\n`) },
    timers,
    backoff: new Backoff({ baseMs: 10, random: () => 0 }),
  });
  return { f, timers, lastIds, text: () => text, cursors };
}

describe('LogFollower', () => {
  describe('start', () => {
    it('appends log data in order and stops after the exit event', async () => {
      const h = follower([() => sseBody([log(1, 'a\n'), log(2, 'b\n'), sse('exit', { type: 'exit', exitCode: 0, status: 'completed' }, 3)]).body]);
      h.f.start();
      await h.f.done();
      assert.equal(h.text(), 'a\nb\n[process completed with exit code 0]\n');
      assert.ok(h.cursors.hasEnded('box/web'));
      assert.equal(h.timers.pending, 0);
    });

    it('ends with what killed it when the kernel killed it for memory', async () => {
      const exit = { type: 'exit', exitCode: 137, status: 'killed', reason: 'out-of-memory', memoryLimit: 256 * 1024 * 1024 };
      const h = follower([() => sseBody([log(1, 'growing\n'), sse('exit', exit, 2)]).body]);
      h.f.start();
      await h.f.done();
      assert.equal(h.text(), 'growing\n[process killed: out of memory (256 MiB limit)]\n');
    });

    it('resumes from the last event id after the stream drops: no gap, no duplicate', async () => {
      const h = follower([() => sseBody([log(1, 'one\n'), log(2, 'two\n')]).body, () => sseBody([log(3, 'three\n')], false).body]);
      h.f.start();
      await until(() => h.timers.pending === 1, 'the reconnect timer');
      h.timers.fireAll();
      await until(() => h.text().includes('three'), 'the resumed line');
      assert.deepEqual(h.lastIds, [undefined, '2']);
      assert.equal(h.text(), 'one\ntwo\nthree\n');
      await h.f.stop();
    });

    it('marks truncated output and gives up when the process is gone', async () => {
      const h = follower([
        () => sseBody([sse('truncated', { type: 'truncated', dropped: 1024 }), log(9, 'tail\n')]).body,
        () => {
          throw new SandboxError(ErrorCode.PROCESS_NOT_FOUND, 'Process web not found');
        },
      ]);
      h.f.start();
      await until(() => h.timers.pending === 1, 'the reconnect timer');
      h.timers.fireAll();
      await h.f.done();
      assert.match(h.text(), /\[… 1024 bytes of older output were dropped …\]\ntail\n\[log stream ended: Process web not found\]/);
    });

    it('does not start again for a process whose exit it has seen', async () => {
      const cursors = new LogCursors();
      cursors.markEnded('box/web');
      const h = follower([() => sseBody([log(1, 'x')]).body], cursors);
      h.f.start();
      assert.equal(h.f.active, false);
      assert.deepEqual(h.lastIds, []);
    });
  });

  describe('LogCursors.forgetSandbox', () => {
    it('forgets only that sandbox', () => {
      const c = new LogCursors();
      c.advance('a/p1', '5');
      c.advance('ab/p1', '6');
      c.markEnded('a/p2');
      c.forgetSandbox('a');
      assert.equal(c.get('a/p1'), undefined);
      assert.equal(c.hasEnded('a/p2'), false);
      assert.equal(c.get('ab/p1'), '6');
    });
  });
});
