import assert from 'node:assert/strict';
import { LineMatcher, makeLineTest } from '../../container/processes/line-matcher';

describe('LineMatcher', () => {
  describe('feed', () => {
    it('matches a substring within a whole line', () => {
      const m = new LineMatcher(makeLineTest('ready', false));
      assert.equal(m.feed('stdout', 'starting\n'), null);
      assert.deepEqual(m.feed('stdout', 'Server ready on 8080\nmore\n'), { line: 'Server ready on 8080' });
    });

    it('assembles lines split across chunks, per stream', () => {
      const m = new LineMatcher(makeLineTest('Server ready', false));
      assert.equal(m.feed('stdout', 'Server re'), null);
      assert.equal(m.feed('stderr', 'noise\n'), null);
      assert.deepEqual(m.feed('stdout', 'ady\n'), { line: 'Server ready' });
    });

    it('does not join stdout and stderr into one line', () => {
      const m = new LineMatcher(makeLineTest('ab', false));
      assert.equal(m.feed('stdout', 'a'), null);
      assert.equal(m.feed('stderr', 'b\n'), null);
    });

    it('matches an unfinished last line (a prompt without newline)', () => {
      const m = new LineMatcher(makeLineTest('listening', false));
      assert.deepEqual(m.feed('stdout', 'listening on 3001'), { line: 'listening on 3001' });
    });

    it('returns the regex match groups as strings and strips a trailing CR', () => {
      const m = new LineMatcher(makeLineTest('port (\\d+)( tls)?', true, 'i'));
      assert.deepEqual(m.feed('stdout', 'Listening on PORT 8080\r\n'), {
        line: 'Listening on PORT 8080',
        match: ['PORT 8080', '8080', ''],
      });
    });

    it('is not confused by the global flag between lines', () => {
      const m = new LineMatcher(makeLineTest('ok', true, 'g'));
      assert.ok(m.feed('stdout', 'ok\n'));
      assert.ok(m.feed('stdout', 'ok\n'));
    });
  });

  describe('makeLineTest', () => {
    it('refuses an invalid regular expression with INVALID_PATTERN', () => {
      assert.throws(
        () => makeLineTest('(unclosed', true),
        (err: any) => err.code === 'INVALID_PATTERN' && /Invalid regular expression/.test(err.message),
      );
    });
  });
});
