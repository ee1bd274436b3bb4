import assert from 'node:assert/strict';
import { ApiClient } from '../../extension/core/api-client';
import { Connection } from '../../extension/core/connection';
import { SandboxStore } from '../../extension/core/store';
import type { SandboxState } from '../../worker/protocol/index';
import { box, ev, ManualTimers, proc, settle, sse, sseBody, until } from './extension-fakes';

describe('SandboxStore', () => {
  describe('refetch', () => {
    it('keeps events that arrive during a full fetch on top of the fetched state', async () => {
      const store = new SandboxStore();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const fetching = store.refetch({
        listSandboxes: async () => [{ id: 'a' }],
        getSandbox: async () => {
          await gate;
          return box('a'); // a snapshot taken before the process started
        },
      });
      store.apply(ev({ type: 'process-started', sandboxId: 'a', process: proc('p1') }));
      release();
      await fetching;
      assert.deepEqual(
        store.world.a!.processes.map((p) => p.id),
        ['p1'],
      );
    });

    it('leaves out a sandbox destroyed between the list and its fetch', async () => {
      const store = new SandboxStore();
      const { SandboxError, ErrorCode } = await import('../../worker/protocol/index');
      await store.refetch({
        listSandboxes: async () => [{ id: 'a' }, { id: 'gone' }],
        getSandbox: async (id) => {
          if (id === 'gone') throw new SandboxError(ErrorCode.SANDBOX_NOT_FOUND, 'no');
          return box(id);
        },
      });
      assert.deepEqual(Object.keys(store.world), ['a']);
    });
  });
});

describe('Connection', () => {
  function fakeWorker(states: SandboxState[], stream: () => ReadableStream<Uint8Array>) {
    let fetches = 0;
    const fetch = async (url: string): Promise<Response> => {
      const path = new URL(url).pathname.replace('/api/v1', '');
      if (path === '/events') return new Response(stream(), { status: 200, headers: { 'content-type': 'text/event-stream' } });
      fetches++;
      if (path === '/sandboxes') return Response.json({ sandboxes: states.map((s) => ({ id: s.id, status: s.status, createdAt: s.createdAt })) });
      const s = states.find((x) => path === `/sandboxes/${x.id}`);
      return s ? Response.json(s) : Response.json({ error: 'nope', code: 'SANDBOX_NOT_FOUND' }, { status: 404 });
    };
    return { client: new ApiClient({ url: 'http://w', token: 't', fetch }), fetches: () => fetches };
  }

  describe('start', () => {
    it('fetches the full state on hello, then follows events without polling', async () => {
      const body = sseBody([sse('hello', { lastEventId: 0 })], false);
      const w = fakeWorker([box('a')], () => body.body);
      const timers = new ManualTimers();
      const c = new Connection({ client: w.client, timers });
      c.setViewVisible(true);
      c.start();
      await until(() => 'a' in c.store.world, 'the fetched sandbox');
      body.push(sse('change', ev({ type: 'process-started', sandboxId: 'a', process: proc('p1') }), 1000));
      await until(() => c.store.world.a!.processes.length === 1, 'the applied event');
      assert.equal(c.polling, false);
      await c.dispose();
    });
  });

  describe('initialSync', () => {
    it("waits for the full fetch the stream's hello brings, so a connect fetches the state once", async () => {
      const body = sseBody([sse('hello', { lastEventId: 0 })], false);
      const w = fakeWorker([box('a'), box('b')], () => body.body);
      const c = new Connection({ client: w.client, timers: new ManualTimers() });
      c.start();
      await c.initialSync();
      assert.deepEqual(Object.keys(c.store.world).sort(), ['a', 'b']);
      assert.equal(w.fetches(), 3, 'one list and one fetch per sandbox, once');
      await c.dispose();
    });

    it('fetches directly when the stream does not come up, instead of waiting for it', async () => {
      const w = fakeWorker([box('a')], () => {
        throw new Error('down');
      });
      const c = new Connection({ client: w.client, timers: new ManualTimers() });
      c.start();
      await c.initialSync();
      assert.ok('a' in c.store.world);
      await c.dispose();
    });

    it('fetches directly when the stream opens but says nothing (a buffering proxy)', async () => {
      const silent = sseBody([], false);
      const w = fakeWorker([box('a')], () => silent.body);
      const timers = new ManualTimers();
      const c = new Connection({ client: w.client, timers });
      c.start();
      const synced = c.initialSync(3000);
      await settle();
      assert.equal(w.fetches(), 0, 'nothing fetched while the hello may still come');
      assert.ok(timers.delays.includes(3000));
      timers.fireAll();
      await synced;
      assert.ok('a' in c.store.world);
      await c.dispose();
    });

    it("fails with the fetch's error when the state cannot be fetched", async () => {
      const body = sseBody([sse('hello', { lastEventId: 0 })], false);
      const fetch = async (url: string): Promise<Response> =>
        new URL(url).pathname.endsWith('/events')
          ? new Response(body.body, { status: 200, headers: { 'content-type': 'text/event-stream' } })
          : Response.json({ error: 'the list broke', code: 'INTERNAL_ERROR' }, { status: 500 });
      const c = new Connection({ client: new ApiClient({ url: 'http://w', token: 't', fetch }), timers: new ManualTimers() });
      c.start();
      await assert.rejects(c.initialSync(), /the list broke/);
      await c.dispose();
    });
  });

  describe('setViewVisible', () => {
    it('polls only while the stream is down and the view is visible', async () => {
      const w = fakeWorker([box('a')], () => {
        throw new Error('down');
      });
      const timers = new ManualTimers();
      const c = new Connection({ client: w.client, timers, pollIntervalMs: 5000 });
      c.start();
      await until(() => c.stream.status === 'waiting', 'the stream to wait');
      assert.equal(c.polling, false, 'no poll while hidden');
      c.setViewVisible(true);
      assert.equal(c.polling, true);
      assert.ok(timers.delays.includes(5000));
      c.setViewVisible(false);
      assert.equal(c.polling, false);
      await c.dispose();
    });

    it('does not poll with a token the Worker refused (the same token would be refused again)', async () => {
      const fetch = async (): Promise<Response> => Response.json({ error: 'bad token', code: 'UNAUTHORIZED' }, { status: 401 });
      const c = new Connection({ client: new ApiClient({ url: 'http://w', token: 't', fetch }), timers: new ManualTimers(), pollIntervalMs: 5000 });
      c.setViewVisible(true);
      c.start();
      await until(() => c.stream.status === 'failed', 'the stream to give up');
      assert.equal(c.polling, false);
      await c.dispose();
    });
  });
});
