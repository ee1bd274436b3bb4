import assert from 'node:assert/strict';
import { EMPTY_WORLD, reduce, withSandbox, worldFrom, type WorldState } from '../../extension/core/state-reducer';
import { box, ev, proc } from './extension-fakes';

describe('state reducer', () => {
  describe('reduce', () => {
    it('adds a sandbox on sandbox-created and removes it on sandbox-destroyed', () => {
      let w: WorldState = EMPTY_WORLD;
      w = reduce(w, ev({ type: 'sandbox-created', sandboxId: 'a', status: 'running' }));
      assert.equal(w.a?.status, 'running');
      w = reduce(w, ev({ type: 'sandbox-destroyed', sandboxId: 'a' }));
      assert.deepEqual(w, {});
    });

    it('does not change its input', () => {
      const before = worldFrom([box('a')]);
      const frozen = JSON.stringify(before);
      const after = reduce(before, ev({ type: 'process-started', sandboxId: 'a', process: proc('p1') }));
      assert.equal(JSON.stringify(before), frozen);
      assert.notEqual(after, before);
    });

    it('replaces a process on process-exited instead of adding a second row', () => {
      let w = worldFrom([box('a')]);
      w = reduce(w, ev({ type: 'process-started', sandboxId: 'a', process: proc('p1') }));
      w = reduce(w, ev({ type: 'process-exited', sandboxId: 'a', process: proc('p1', 'killed', { signal: 'SIGTERM' }) }));
      assert.equal(w.a!.processes.length, 1);
      assert.equal(w.a!.processes[0]!.status, 'killed');
    });

    it('keeps exposed ports sorted and drops them on unexposed or expired', () => {
      let w = worldFrom([box('a')]);
      const port = (n: number) => ({ port: n, url: `http://${n}-a-t.localhost:8787/`, exposedAt: '', visibility: 'public' as const, createdAt: '' });
      w = reduce(w, ev({ type: 'port-exposed', sandboxId: 'a', port: port(9000) }));
      w = reduce(w, ev({ type: 'port-exposed', sandboxId: 'a', port: port(8000) }));
      assert.deepEqual(
        w.a!.ports.map((p) => p.port),
        [8000, 9000],
      );
      w = reduce(w, ev({ type: 'port-unexposed', sandboxId: 'a', port: 8000 }));
      w = reduce(w, ev({ type: 'port-expired', sandboxId: 'a', port: 9000 }));
      assert.deepEqual(w.a!.ports, []);
    });

    it('tracks detected ports and forgets them when the sandbox stops', () => {
      let w = worldFrom([box('a')]);
      w = reduce(w, ev({ type: 'port-detected', sandboxId: 'a', port: { port: 8080, address: '0.0.0.0', pid: 5, processId: 'p1' } }));
      assert.equal(w.a!.detectedPorts.length, 1);
      w = reduce(w, ev({ type: 'sandbox-status', sandboxId: 'a', status: 'stopped' }));
      assert.deepEqual(w.a!.detectedPorts, []);
    });

    it('marks running processes killed when processes-gone says the agent died', () => {
      let w = worldFrom([box('a', { processes: [proc('p1'), proc('p2', 'completed')], detectedPorts: [{ port: 8080, address: '0.0.0.0', pid: 5, processId: 'p1' }] })]);
      w = reduce(w, ev({ type: 'processes-gone', sandboxId: 'a', processIds: ['p1', 'p2'] }));
      assert.deepEqual(
        w.a!.processes.map((p) => p.status),
        ['killed', 'completed'],
      );
      assert.deepEqual(w.a!.detectedPorts, []);
    });

    it('adds and removes tunnels', () => {
      let w = worldFrom([box('a')]);
      w = reduce(w, ev({ type: 'tunnel-up', sandboxId: 'a', tunnel: { id: 't', port: 8080, url: 'https://x.trycloudflare.com', hostname: 'x.trycloudflare.com', createdAt: '' } }));
      assert.equal(w.a!.tunnels.length, 1);
      w = reduce(w, ev({ type: 'tunnel-down', sandboxId: 'a', port: 8080 }));
      assert.deepEqual(w.a!.tunnels, []);
    });

    it('creates a sandbox it has not seen from its first event', () => {
      const w = reduce(EMPTY_WORLD, ev({ type: 'process-started', sandboxId: 'new', process: proc('p1') }));
      assert.equal(w.new?.processes.length, 1);
    });
  });

  describe('withSandbox', () => {
    it('replaces one sandbox and removes it when the fetch found none', () => {
      const w = worldFrom([box('a'), box('b')]);
      assert.equal(withSandbox(w, 'a', box('a', { status: 'stopped' })).a!.status, 'stopped');
      assert.deepEqual(Object.keys(withSandbox(w, 'a', null)), ['b']);
    });
  });
});
