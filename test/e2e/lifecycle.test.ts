import assert from 'node:assert/strict';
import { Api, changeEvents } from '../helpers/api';
import { eventually } from '../helpers/net';
import { markedAlive, markedSleep } from '../helpers/agent-process';
import { newStack, sharedStack, type Stack, hostState } from '../helpers/stack';

async function agentPid(stack: Stack, id: string): Promise<number> {
  const body = await hostState(stack, id);
  assert.ok(body.running && body.pid, `agent for ${id} runs: ${JSON.stringify(body)}`);
  return body.pid!;
}

describe('sandbox lifecycle, events and faults', function () {
  this.timeout(90000);

  describe('event stream', () => {
    let api: Api;
    const box = `events-${Date.now().toString(36)}`;

    before(async function () {
      this.timeout(120000);
      const stack = await sharedStack();
      api = new Api(stack.url, stack.token);
    });

    it('pushes sandbox and process events, and resumes from the last id without gap or duplicate', async () => {
      const stream = await api.stream('/events');
      await stream.waitFor((m) => m.event === 'hello');
      await api.ok('POST', '/sandboxes', { id: box });
      const proc = await api.ok('POST', `/sandboxes/${box}/processes`, { command: 'echo hi' });
      await stream.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'process-exited' && JSON.parse(m.data).process.id === proc.id);
      const mine = changeEvents(stream).filter((e) => e.sandboxId === box);
      const types = mine.map((e) => e.type);
      assert.deepEqual(types.slice(0, 2), ['sandbox-created', 'sandbox-status']);
      assert.ok(types.includes('process-started'));
      const exited = mine.find((e) => e.type === 'process-exited');
      assert.equal(exited.process.status, 'completed');

      // Resume from the middle: exactly the events after that id.
      const all = changeEvents(stream);
      const cut = all[1];
      stream.close();
      const resumed = await api.stream('/events', String(cut.id));
      await resumed.waitFor((m) => m.event === 'change' && Number(m.id) === all[all.length - 1].id);
      const again = changeEvents(resumed);
      assert.deepEqual(
        again.slice(0, all.length - 2).map((e) => e.id),
        all.slice(2).map((e) => e.id),
      );
      resumed.close();
    });

    it('says "reset" to a client resuming from an id the Worker never had', async () => {
      const s = await api.stream('/events', '999999999');
      await s.waitFor((m) => m.event === 'reset');
      s.close();
    });
  });

  describe('faults', () => {
    let stack: Stack;
    let api: Api;
    const box = `fault-${Date.now().toString(36)}`;

    before(async function () {
      this.timeout(120000);
      stack = await sharedStack();
      api = new Api(stack.url, stack.token);
      await api.ok('POST', '/sandboxes', { id: box });
    });

    it('reports a SIGKILLed agent as stopped, its processes gone, and starts a fresh agent on the next call', async () => {
      // A marked sleep is found on this machine by its command line: the pid the API reports is the
      // sandbox's own (its pid namespace), which names some other process here.
      const sleeper = markedSleep();
      const proc = await api.ok('POST', `/sandboxes/${box}/processes`, { command: sleeper.command });
      await eventually(() => markedAlive(sleeper.mark), 5000, 'the sleep to run');
      const stream = await api.stream('/events');
      await stream.waitFor((m) => m.event === 'hello');
      const pid = await agentPid(stack, box);
      process.kill(pid, 'SIGKILL');

      await stream.waitFor((m) => {
        if (m.event !== 'change') return false;
        const e = JSON.parse(m.data);
        return e.sandboxId === box && e.type === 'sandbox-status' && e.status === 'stopped';
      });
      const gone = await stream.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'processes-gone');
      assert.ok(JSON.parse(gone.data).processIds.includes(proc.id));
      stream.close();
      await eventually(() => !markedAlive(sleeper.mark), 10000, 'the sandbox process died with its agent');

      const state = await api.ok('GET', `/sandboxes/${box}`);
      assert.equal(state.status, 'stopped');
      assert.deepEqual(state.processes, []);

      const r = await api.ok('POST', `/sandboxes/${box}/exec`, { command: 'echo fresh' });
      assert.equal(r.stdout, 'fresh\n');
      const newPid = await agentPid(stack, box);
      assert.notEqual(newPid, pid);
      assert.equal((await api.ok('GET', `/sandboxes/${box}`)).status, 'running');
    });

    it('destroys a sandbox: its processes die, it leaves the list, and a destroyed event is pushed', async () => {
      const id = `gone-${Date.now().toString(36)}`;
      await api.ok('POST', '/sandboxes', { id });
      const sleeper = markedSleep();
      await api.ok('POST', `/sandboxes/${id}/processes`, { command: sleeper.command });
      await eventually(() => markedAlive(sleeper.mark), 5000, 'the sleep to run');
      const stream = await api.stream('/events');
      await stream.waitFor((m) => m.event === 'hello');
      assert.equal((await api.call('DELETE', `/sandboxes/${id}`)).status, 204);
      await stream.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'sandbox-destroyed' && JSON.parse(m.data).sandboxId === id);
      stream.close();
      await eventually(() => !markedAlive(sleeper.mark), 10000, 'the process died');
      const list = await api.ok('GET', '/sandboxes');
      assert.ok(!list.sandboxes.some((s: any) => s.id === id));
      assert.equal((await api.call('GET', `/sandboxes/${id}`)).status, 404);
    });
  });

  describe('races with destroy', () => {
    let api: Api;
    before(async function () {
      this.timeout(120000);
      const stack = await sharedStack();
      api = new Api(stack.url, stack.token);
    });

    it('an exec overtaken by a destroy answers 409 SANDBOX_DESTROYED, not a lost connection', async () => {
      const id = `race-exec-${Date.now().toString(36)}`;
      await api.ok('POST', '/sandboxes', { id });
      const running = api.call('POST', `/sandboxes/${id}/exec`, { command: 'echo started; sleep 30', timeout: 60000 });
      // The exec is under way once the agent runs its command.
      await eventually(
        async () => {
          const r = await api.call('POST', `/sandboxes/${id}/exec`, { command: 'pgrep -f "sleep 30" >/dev/null && echo yes || echo no' });
          return r.status === 200 && r.body.stdout.trim() === 'yes';
        },
        10000,
        'the exec runs',
      );
      assert.equal((await api.call('DELETE', `/sandboxes/${id}`)).status, 204);
      const r = await running;
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal(r.body.code, 'SANDBOX_DESTROYED');
    });

    it('starts, execs and exposes racing a destroy answer 2xx, 404 or 409, never 5xx', async () => {
      const id = `race-many-${Date.now().toString(36)}`;
      await api.ok('POST', '/sandboxes', { id });
      const calls = [
        ...Array.from({ length: 4 }, () => api.call('POST', `/sandboxes/${id}/processes`, { command: 'sleep 30' })),
        ...Array.from({ length: 4 }, () => api.call('POST', `/sandboxes/${id}/exec`, { command: 'true' })),
        ...Array.from({ length: 2 }, (_, i) => api.call('POST', `/sandboxes/${id}/ports`, { port: 41000 + i })),
        api.call('DELETE', `/sandboxes/${id}`),
        ...Array.from({ length: 3 }, () => api.call('POST', `/sandboxes/${id}/exec`, { command: 'true' })),
      ];
      const statuses = (await Promise.all(calls)).map((r) => `${r.status} ${r.body?.code ?? ''}`.trim());
      for (const s of statuses) assert.match(s, /^(2\d\d|404 SANDBOX_NOT_FOUND|409 SANDBOX_DESTROYED)/, statuses.join(', '));
      // Created again afterwards, it is a new sandbox with nothing of the old.
      await api.ok('POST', '/sandboxes', { id });
      const state = await api.ok('GET', `/sandboxes/${id}`);
      assert.deepEqual([state.processes.length, state.ports.length], [0, 0]);
      await api.ok('DELETE', `/sandboxes/${id}`);
    });
  });

  describe('starts are serialized', () => {
    let api: Api;
    let stack: Stack;
    before(async function () {
      this.timeout(120000);
      stack = await sharedStack();
      api = new Api(stack.url, stack.token);
    });

    it('creates and calls racing on a new sandbox share one agent: one 201, the rest 2xx', async () => {
      const id = `race-create-${Date.now().toString(36)}`;
      const calls = await Promise.all([
        ...Array.from({ length: 4 }, () => api.call('POST', '/sandboxes', { id })),
        ...Array.from({ length: 4 }, () => api.call('POST', `/sandboxes/${id}/exec`, { command: 'echo ok' })),
      ]);
      const statuses = calls.map((r) => r.status);
      assert.deepEqual(statuses.filter((s) => s === 201).length, 1, statuses.join(', '));
      for (const r of calls) assert.ok(r.status >= 200 && r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
      assert.deepEqual(
        calls.slice(4).map((r) => r.body.stdout.trim()),
        ['ok', 'ok', 'ok', 'ok'],
      );
      // The agent that served them is still the one running: no start replaced it.
      const agent = await hostState(stack, id);
      assert.equal(agent.running, true);
      assert.equal((await api.ok('POST', `/sandboxes/${id}/exec`, { command: 'echo again' })).stdout.trim(), 'again');
      assert.equal((await hostState(stack, id)).pid, agent.pid);
      await api.ok('DELETE', `/sandboxes/${id}`);
    });

    it('calls racing a destroy and a re-create answer 2xx, 404 or 409, and leave one working sandbox', async () => {
      const id = `race-recreate-${Date.now().toString(36)}`;
      await api.ok('POST', '/sandboxes', { id });
      const calls = [
        ...Array.from({ length: 3 }, () => api.call('POST', `/sandboxes/${id}/exec`, { command: 'true' })),
        api.call('DELETE', `/sandboxes/${id}`),
        api.call('POST', '/sandboxes', { id }),
        ...Array.from({ length: 3 }, () => api.call('POST', `/sandboxes/${id}/processes`, { command: 'sleep 30' })),
        api.call('POST', `/sandboxes/${id}/ports`, { port: 41234 }),
      ];
      const statuses = (await Promise.all(calls)).map((r) => `${r.status} ${r.body?.code ?? ''} ${r.status >= 500 ? r.body?.error : ''}`.trim());
      for (const s of statuses) assert.match(s, /^(2\d\d|404 SANDBOX_NOT_FOUND|409 SANDBOX_DESTROYED)/, statuses.join(', '));
      // Whatever the order, what is left is one consistent sandbox that works.
      await api.ok('POST', '/sandboxes', { id });
      assert.equal((await api.ok('POST', `/sandboxes/${id}/exec`, { command: 'echo ok' })).stdout.trim(), 'ok');
      const list = await api.ok('GET', '/sandboxes');
      assert.equal(list.sandboxes.filter((s: { id: string }) => s.id === id).length, 1);
      await api.ok('DELETE', `/sandboxes/${id}`);
    });
  });

  describe('restart', () => {
    it('a restarted Worker still lists the sandboxes it had', async function () {
      this.timeout(180000);
      const first = await newStack();
      const api1 = new Api(first.url, first.token);
      await api1.ok('POST', '/sandboxes', { id: 'survivor' });
      await first.stop();
      const second = await newStack({ stateDir: first.stateDir, token: first.token, port: first.port });
      const api2 = new Api(second.url, second.token);
      const list = await api2.ok('GET', '/sandboxes');
      const found = list.sandboxes.find((s: any) => s.id === 'survivor');
      assert.ok(found, JSON.stringify(list));
      assert.equal(found.status, 'stopped');
      const r = await api2.ok('POST', '/sandboxes/survivor/exec', { command: 'echo back' });
      assert.equal(r.stdout, 'back\n');
      await second.stop();
    });
  });
});
