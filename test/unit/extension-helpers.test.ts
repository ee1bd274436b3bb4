import assert from 'node:assert/strict';
import { exposeRequest, validatePortInput, validateTokenInput, validateTtlInput } from '../../extension/core/expose-input';
import { formatAge, shorten } from '../../extension/core/format';
import { isSandboxPortsProject, parseLocalConfig } from '../../extension/core/local-config';
import { decidePortDetected, ignoreKey, portDetectedAction } from '../../extension/core/port-detected';
import { PreviewTracker } from '../../extension/core/previews';
import { waitUntilReady } from '../../extension/core/ready';
import { worldFrom } from '../../extension/core/state-reducer';
import { box, ev, ManualTimers } from './extension-fakes';

const exposedPort = (port: number) => ({ port, url: `http://${port}-a-t.localhost:8787/`, exposedAt: '', visibility: 'public' as const, createdAt: '' });

describe('extension helpers', () => {
  describe('expose inputs', () => {
    it('refuses reserved and out-of-range ports with the rule', () => {
      assert.equal(validatePortInput('8080'), undefined);
      assert.match(validatePortInput('3000')!, /Port 3000 is reserved/);
      assert.match(validatePortInput('80')!, /1024-65535/);
      assert.match(validatePortInput('web')!, /number/);
    });

    it('accepts an empty token or ttl, and refuses malformed ones', () => {
      assert.equal(validateTokenInput(''), undefined);
      assert.equal(validateTokenInput('api-v1'), undefined);
      assert.ok(validateTokenInput('Bad Token'));
      assert.equal(validateTtlInput('30m'), undefined);
      assert.equal(validateTtlInput(''), undefined);
      assert.ok(validateTtlInput('soon'));
    });

    it('leaves empty answers out of the request', () => {
      assert.deepEqual(exposeRequest({ port: 8080, name: ' ', token: '', ttl: '' }), { port: 8080 });
      assert.deepEqual(exposeRequest({ port: 8080, name: 'web', visibility: 'private', ttl: '60000' }), { port: 8080, name: 'web', visibility: 'private', ttl: 60000 });
    });
  });

  describe('decidePortDetected', () => {
    const detected = (port: number, address = '0.0.0.0') => ev({ type: 'port-detected', sandboxId: 'a', port: { port, address, pid: 1, processId: 'p1' } });
    const world = worldFrom([box('a', { ports: [exposedPort(9000)] })]);

    it('follows the setting for a new port', () => {
      assert.equal(decidePortDetected(detected(8080), world, 'notify', new Set())?.action, 'notify');
      assert.equal(decidePortDetected(detected(8080), world, 'exposeAndOpen', new Set())?.action, 'exposeAndOpen');
      assert.equal(decidePortDetected(detected(8080), world, 'silent', new Set())?.action, 'none');
    });

    it('does nothing for exposed, ignored or loopback-only ports, or other events', () => {
      assert.equal(decidePortDetected(detected(9000), world, 'notify', new Set())?.action, 'none');
      assert.equal(decidePortDetected(detected(8080), world, 'notify', new Set([ignoreKey('a', 8080)]))?.action, 'none');
      assert.equal(decidePortDetected(detected(8080, '127.0.0.1'), world, 'notify', new Set())?.action, 'none');
      // 127.0.0.1 bound through an IPv6 socket, as the agent reports it from /proc/net/tcp6
      assert.equal(decidePortDetected(detected(8080, '::ffff:127.0.0.1'), world, 'notify', new Set())?.action, 'none');
      assert.equal(decidePortDetected(ev({ type: 'port-closed', sandboxId: 'a', port: 1 }), world, 'notify', new Set()), null);
    });

    it('reads an unknown setting value as notify', () => {
      assert.equal(portDetectedAction('bogus'), 'notify');
      assert.equal(portDetectedAction('expose'), 'expose');
    });
  });

  describe('PreviewTracker', () => {
    it('puts the last exposed or opened URL first', () => {
      const world = worldFrom([box('a', { ports: [exposedPort(8080), exposedPort(9000)] })]);
      const t = new PreviewTracker();
      assert.equal(t.current(world)?.port, 8080);
      t.touch(exposedPort(9000).url);
      assert.deepEqual(
        t.entries(world).map((e) => e.port),
        [9000, 8080],
      );
      assert.equal(t.current(worldFrom([])), undefined);
    });
  });

  describe('waitUntilReady', () => {
    it('polls the preview until the service, not the proxy, answers', async () => {
      const statuses = [502, 503, 200];
      const seen: string[] = [];
      const timers = new ManualTimers();
      const fetch = async (url: string, init?: RequestInit) => {
        seen.push(`${url} ${(init?.headers as Record<string, string>).authorization}`);
        return new Response('x', { status: statuses.shift()! });
      };
      const done = waitUntilReady({ url: 'http://p/', token: 'tok', fetch, timers, clock: () => 0 });
      for (let i = 0; i < 2; i++) {
        while (timers.pending === 0) await new Promise((r) => setImmediate(r));
        timers.fireAll();
      }
      await done;
      assert.equal(seen.length, 3);
      assert.equal(seen[0], 'http://p/ Bearer tok');
    });

    it('uses wait-for-port when the port belongs to a process, and times out clearly otherwise', async () => {
      let asked = 0;
      await waitUntilReady({ url: 'http://p/', waitForPort: async (t) => void (asked = t), timeoutMs: 1234 });
      assert.equal(asked, 1234);
      let now = 0;
      const timers = { setTimeout: (fn: () => void) => ((now += 600), setImmediate(fn)), clearTimeout: () => {} };
      await assert.rejects(
        waitUntilReady({ url: 'http://p/', fetch: async () => new Response('', { status: 502 }), timers, clock: () => now, timeoutMs: 1000 }),
        /did not answer within 1000 ms \(last: HTTP 502\)/,
      );
    });
  });

  describe('local config', () => {
    it('reads url and token, and ignores a half-written file', () => {
      assert.deepEqual(parseLocalConfig('{"url":"http://127.0.0.1:8787","token":"t"}'), { url: 'http://127.0.0.1:8787', token: 't' });
      assert.equal(parseLocalConfig('{"url":"http://127.0'), null);
      assert.equal(parseLocalConfig('{"url":"x"}'), null);
      assert.ok(isSandboxPortsProject('{"name":"sandbox-ports"}'));
      assert.ok(!isSandboxPortsProject('{"name":"other"}'));
    });
  });

  describe('format', () => {
    it('writes short ages and shortens long commands', () => {
      assert.deepEqual([formatAge(5_000), formatAge(240_000), formatAge(3_900_000), formatAge(90_000_000)], ['5s', '4m', '1h 5m', '1d 1h']);
      assert.equal(shorten('a'.repeat(100), 10), 'aaaaaaaaa…');
    });
  });
});
