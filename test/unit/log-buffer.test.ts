import assert from 'node:assert/strict';
import { LogBuffer, truncationMarker } from '../../container/processes/log-buffer';

describe('LogBuffer', () => {
  describe('append', () => {
    it('gives every chunk the next sequence id, across stdout and stderr', () => {
      const buf = new LogBuffer(1000);
      assert.equal(buf.append('stdout', 'a').seq, 1);
      assert.equal(buf.append('stderr', 'b').seq, 2);
      assert.equal(buf.append('stdout', 'c').seq, 3);
      assert.equal(buf.lastSeq, 3);
    });

    it('drops the oldest chunks once the kept bytes pass the limit', () => {
      const buf = new LogBuffer(10);
      for (let i = 0; i < 5; i++) buf.append('stdout', '0123');
      // 5 × 4 bytes = 20 > 10: only the newest two chunks (8 bytes) fit.
      assert.equal(buf.firstSeq, 4);
      assert.deepEqual(
        buf.since(0).chunks.map((c) => c.seq),
        [4, 5],
      );
    });

    it('keeps the newest chunk even when it alone is larger than the limit', () => {
      const buf = new LogBuffer(4);
      buf.append('stdout', 'x'.repeat(100));
      assert.equal(buf.snapshot().stdout, 'x'.repeat(100));
    });

    it('counts UTF-8 bytes, not characters', () => {
      const buf = new LogBuffer(6);
      buf.append('stdout', 'ééé'); // 6 bytes
      buf.append('stdout', 'é'); // 2 more: the first chunk goes
      assert.equal(buf.snapshot().stdout, truncationMarker(6) + 'é');
    });

    it('tells subscribers about every new chunk until they unsubscribe', () => {
      const buf = new LogBuffer(100);
      const seen: string[] = [];
      const off = buf.subscribe((c) => seen.push(c.data));
      buf.append('stdout', 'one');
      off();
      buf.append('stdout', 'two');
      assert.deepEqual(seen, ['one']);
      assert.equal(buf.listenerCount, 0);
    });
  });

  describe('snapshot', () => {
    it('returns stdout and stderr apart, untruncated while under the limit', () => {
      const buf = new LogBuffer(100);
      buf.append('stdout', 'out1\n');
      buf.append('stderr', 'err1\n');
      buf.append('stdout', 'out2\n');
      assert.deepEqual(buf.snapshot(), { stdout: 'out1\nout2\n', stderr: 'err1\n', truncated: false });
    });

    it('starts a truncated stream with a visible marker that counts the dropped bytes', () => {
      const buf = new LogBuffer(10);
      buf.append('stdout', 'aaaaaaaa'); // dropped
      buf.append('stderr', 'bb');
      buf.append('stdout', 'cccccccc');
      const logs = buf.snapshot();
      assert.equal(logs.truncated, true);
      assert.equal(logs.stdout, '[… 8 bytes of earlier output truncated …]\ncccccccc');
      assert.equal(logs.stderr, 'bb', 'an untouched stream has no marker');
    });
  });

  describe('since', () => {
    it('resumes after a given id with no gap and no duplicate', () => {
      const buf = new LogBuffer(1000);
      for (let i = 1; i <= 6; i++) buf.append(i % 2 ? 'stdout' : 'stderr', `line${i}\n`);
      const first = buf.since(0).chunks.slice(0, 3);
      const rest = buf.since(first[first.length - 1]!.seq);
      assert.equal(rest.dropped, 0);
      assert.deepEqual(
        [...first, ...rest.chunks].map((c) => c.data),
        ['line1\n', 'line2\n', 'line3\n', 'line4\n', 'line5\n', 'line6\n'],
      );
    });

    it('reports how many chunks after the resume point were already dropped', () => {
      const buf = new LogBuffer(4);
      for (let i = 0; i < 10; i++) buf.append('stdout', 'ab'); // keeps seq 9 and 10
      assert.deepEqual(buf.since(3).dropped, 5); // 4..8 are gone
      assert.deepEqual(
        buf.since(3).chunks.map((c) => c.seq),
        [9, 10],
      );
      assert.equal(buf.since(9).dropped, 0);
      assert.deepEqual(
        buf.since(9).chunks.map((c) => c.seq),
        [10],
      );
    });

    it('skips reserved ids, which never appear as chunks', () => {
      const buf = new LogBuffer(100);
      buf.append('stdout', 'a');
      const exitSeq = buf.reserveSeq();
      buf.append('stdout', 'late');
      assert.equal(exitSeq, 2);
      assert.deepEqual(
        buf.since(1).chunks.map((c) => c.seq),
        [3],
      );
    });

    it('stays bounded in chunk count under a long stream of tiny writes', () => {
      const buf = new LogBuffer(1000);
      for (let i = 0; i < 100_000; i++) buf.append('stdout', 'x');
      assert.equal(buf.since(0).chunks.length, 1000);
      assert.equal(buf.firstSeq, 99_001);
    });
  });
});
