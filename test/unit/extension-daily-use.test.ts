/**
 * The pure parts behind the extension's daily use: the connection state a person sees, per-port
 * attributes, the one-step expose that keeps URLs, and the words in tooltips.
 */
import assert from 'node:assert/strict';
import { oneStepExpose, reexpose } from '../../extension/core/expose-input';
import { clockTime, formatRelative } from '../../extension/core/format';
import { connecting, DISCONNECTED, isStale, linkOnStream, linkTexts, withOutageError, type LinkState } from '../../extension/core/link-state';
import { attributesFor, parseAttributesFile, parsePortsAttributes } from '../../extension/core/port-attributes';
import { decidePortDetected } from '../../extension/core/port-detected';
import { worldFrom } from '../../extension/core/state-reducer';
import type { ExposedPort } from '../../worker/protocol/index';
import { box, ev } from './extension-fakes';

const URL_ = 'http://127.0.0.1:8787';
const T0 = new Date(2026, 10, 29, 12, 3, 0).getTime();

describe('extension daily use', () => {
  describe('connection state', () => {
    const run = (changes: Parameters<typeof linkOnStream>[1][], start: LinkState = connecting(URL_)) => {
      let state = start;
      const reconnects: number[] = [];
      changes.forEach((c, i) => {
        const step = linkOnStream(state, c, T0 + i * 1000);
        state = step.next;
        if (step.reconnected) reconnects.push(i);
      });
      return { state, reconnects };
    };

    it('says which Worker it is connected to, in the view and the status bar', () => {
      const { state } = run([{ status: 'connecting' }, { status: 'connected' }]);
      assert.equal(state.kind, 'connected');
      const t = linkTexts(state, T0);
      assert.equal(t.description, '127.0.0.1:8787');
      assert.equal(t.status, '$(plug) 127.0.0.1:8787');
      assert.equal(t.message, undefined);
      assert.equal(isStale(state), false);
    });

    it('while the stream is lost: reconnecting with a countdown, the tree stale as of the loss, and the reason', () => {
      const { state } = run([{ status: 'connected' }, { status: 'waiting', retryInMs: 4000, error: new Error('connect ECONNREFUSED 127.0.0.1:8787') }]);
      assert.equal(state.kind, 'reconnecting');
      assert.equal(state.lostAt, T0 + 1000);
      assert.ok(isStale(state));
      const t = linkTexts(state, T0 + 1000);
      assert.equal(t.description, '127.0.0.1:8787: reconnecting in 4 s');
      assert.match(t.status, /^\$\(sync~spin\) 127\.0\.0\.1:8787: reconnecting in 4 s$/);
      assert.equal(
        t.message,
        `Lost the connection to 127.0.0.1:8787 at ${clockTime(T0 + 1000)} (connect ECONNREFUSED 127.0.0.1:8787). Showing what was known then; reconnecting in 4 s.`,
      );
      assert.equal(linkTexts(state, T0 + 3500).description, '127.0.0.1:8787: reconnecting in 2 s');
    });

    it('keeps the time of the first loss across retries, says "reconnecting now" during an attempt, and reports the return once', () => {
      const { state, reconnects } = run([
        { status: 'connected' },
        { status: 'waiting', retryInMs: 500 },
        { status: 'connecting' },
        { status: 'waiting', retryInMs: 1000 },
        { status: 'connecting' },
        { status: 'connected' },
        { status: 'connecting' },
        { status: 'connected' },
      ]);
      assert.deepEqual(reconnects, [5]);
      assert.equal(state.kind, 'connected');
      const mid = run([
        { status: 'connected' },
        { status: 'waiting', retryInMs: 500 },
        { status: 'connecting' },
        { status: 'waiting', retryInMs: 1000 },
        { status: 'connecting' },
      ]).state;
      assert.equal(mid.lostAt, T0 + 1000);
      assert.equal(linkTexts(mid, T0 + 5000).description, '127.0.0.1:8787: reconnecting now…');
    });

    it('keeps each failed command once in the outage line, the latest last, three at most', () => {
      let list: string[] = [];
      for (const t of ['Could not start the process', 'Could not expose the port', 'Could not start the process']) list = withOutageError(list, t);
      assert.deepEqual(list, ['could not expose the port', 'could not start the process']);
      for (const t of ['A', 'B', 'C']) list = withOutageError(list, t);
      assert.deepEqual(list, ['a', 'b', 'c']);
    });

    it('lists what could not be done during the outage, and says a refused token plainly', () => {
      const lost = run([{ status: 'connected' }, { status: 'waiting', retryInMs: 2000 }]).state;
      assert.match(linkTexts(lost, T0 + 1000, ['could not start the process']).message!, /Not done while disconnected: could not start the process\.$/);
      const refused = run([{ status: 'failed', error: new Error('bad token') }]).state;
      assert.equal(refused.kind, 'refused');
      assert.match(linkTexts(refused, T0).message!, /refused the token \(bad token\)\. Connect again/);
      assert.equal(linkTexts(DISCONNECTED, T0).description, 'not connected');
    });
  });

  describe('per-port attributes', () => {
    it('parses ports and ranges, and reports every bad entry without dropping the good ones', () => {
      const { rules, problems } = parsePortsAttributes(
        {
          '8080': { label: 'web', onDetect: 'exposeAndOpen', visibility: 'private' },
          '3000-3999': { onDetect: 'silent' },
          '99999': {},
          abc: {},
          '9000': { onDetect: 'later', visibility: 'secret' },
          '9100': 'web',
        },
        'settings',
      );
      assert.deepEqual(
        rules.map((r) => [r.from, r.to]).sort((a, b) => a[0]! - b[0]!),
        [
          [3000, 3999],
          [8080, 8080],
          [9000, 9000],
        ],
      );
      assert.equal(problems.length, 5, problems.join('\n'));
      assert.ok(problems.some((p) => /"99999" is not a port/.test(p)));
      assert.ok(problems.some((p) => /onDetect must be one of notify, expose, exposeAndOpen, silent, ignore/.test(p)));
      assert.ok(problems.some((p) => /visibility must be "public" or "private"/.test(p)));
    });

    it('takes each field from the most specific rule, the setting before the file at equal width', () => {
      const setting = parsePortsAttributes({ '3000-3999': { onDetect: 'silent', visibility: 'private' }, '3001': { label: 'api' } }, 'settings').rules;
      const file = parseAttributesFile(JSON.stringify({ portsAttributes: { '3001': { label: 'from-file', onDetect: 'expose' }, '3000-3100': { visibility: 'public' } } })).rules;
      const rules = [...setting, ...file];
      assert.deepEqual(attributesFor(rules, 3001), { label: 'api', onDetect: 'expose', visibility: 'public' });
      assert.deepEqual(attributesFor(rules, 3500), { onDetect: 'silent', visibility: 'private' });
      assert.deepEqual(attributesFor(rules, 8080), {});
    });

    it('reads a broken .sandbox-ports.json as one problem', () => {
      assert.match(parseAttributesFile('{ nope').problems[0]!, /not valid JSON/);
      assert.match(parseAttributesFile('[]').problems[0]!, /expected an object/);
    });

    it("decides what happens on detection: the port's onDetect before the setting; ignore and silent do nothing", () => {
      const detected = (port: number) => ev({ type: 'port-detected', sandboxId: 'a', port: { port, address: '0.0.0.0', pid: 1, processId: 'p1' } });
      const world = worldFrom([box('a')]);
      const rules = parsePortsAttributes({ '8080': { onDetect: 'exposeAndOpen', label: 'web' }, '5432': { onDetect: 'ignore' }, '6000': { onDetect: 'silent' } }, 'settings').rules;
      assert.deepEqual(decidePortDetected(detected(8080), world, 'notify', new Set(), rules), {
        sandboxId: 'a',
        port: 8080,
        processId: 'p1',
        address: '0.0.0.0',
        label: 'web',
        action: 'exposeAndOpen',
      });
      assert.equal(decidePortDetected(detected(5432), world, 'expose', new Set(), rules)?.action, 'none');
      assert.equal(decidePortDetected(detected(6000), world, 'expose', new Set(), rules)?.action, 'none');
      assert.equal(decidePortDetected(detected(7000), world, 'expose', new Set(), rules)?.action, 'expose');
    });
  });

  describe('one-step expose', () => {
    const current: ExposedPort = { port: 8080, url: 'http://8080-a-tok.localhost:8787/', exposedAt: '', name: 'web', visibility: 'private', createdAt: '' };

    it('exposes public with a fresh 16-character custom token, so the URL survives restarts', () => {
      const req = oneStepExpose(8080, {}, undefined);
      assert.equal(req.visibility, 'public');
      assert.match(req.token!, /^[a-z0-9]{16}$/);
      assert.notEqual(oneStepExpose(8080, {}, undefined).token, req.token);
      assert.equal(req.name, undefined);
    });

    it("takes label and visibility from the port's attributes", () => {
      assert.deepEqual(
        oneStepExpose(8080, { label: 'site', visibility: 'private' }, undefined, () => 'fixedtoken'),
        { port: 8080, visibility: 'private', token: 'fixedtoken', name: 'site' },
      );
    });

    it('never sends a token for a port already exposed (its URL stays), and keeps its label and visibility', () => {
      assert.deepEqual(oneStepExpose(8080, { label: 'other' }, current), { port: 8080, visibility: 'private', name: 'web' });
      // A port made private stays private when exposed again, whatever its attributes say.
      assert.deepEqual(oneStepExpose(8080, { label: 'other', visibility: 'public' }, current), { port: 8080, visibility: 'private', name: 'web' });
    });

    it('changes a label or the visibility without a token, so the URL stays the same', () => {
      assert.deepEqual(reexpose(current, { name: 'site' }), { port: 8080, visibility: 'private', name: 'site' });
      assert.deepEqual(reexpose(current, { visibility: 'public' }), { port: 8080, visibility: 'public', name: 'web' });
      assert.deepEqual(reexpose(current, { name: null }), { port: 8080, visibility: 'private', name: null });
    });
  });

  describe('words', () => {
    it('writes relative times for tooltips', () => {
      const now = Date.parse('2026-01-01T12:00:00Z');
      assert.equal(formatRelative(now - 2000, now), 'just now');
      assert.equal(formatRelative(now - 12_000, now), '12 seconds ago');
      assert.equal(formatRelative(now - 60_000, now), '1 minute ago');
      assert.equal(formatRelative(now - 4 * 3600_000, now), '4 hours ago');
      assert.equal(formatRelative(now - 3 * 86_400_000, now), '3 days ago');
      assert.equal(formatRelative(now + 30 * 60_000, now), 'in 30 minutes');
      assert.equal(formatRelative(Number.NaN, now), 'at an unknown time');
    });
  });
});
