import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Api, changeEvents } from '../helpers/api';
import { previewRequest } from '../helpers/preview-client';
import { startEcho } from '../helpers/services';
import { newStack, sharedStack, type Stack, hostState } from '../helpers/stack';

async function killAgent(stack: Stack, api: Api, id: string): Promise<void> {
  const stream = await api.stream('/events');
  await stream.waitFor((m) => m.event === 'hello');
  const { pid } = await hostState(stack, id);
  process.kill(pid!, 'SIGKILL');
  await stream.waitFor((m) => m.event === 'change' && JSON.parse(m.data).sandboxId === id && JSON.parse(m.data).status === 'stopped');
  stream.close();
}

describe('preview URLs › container restarts and detected ports', function () {
  this.timeout(90000);
  let stack: Stack;
  let api: Api;

  before(async function () {
    this.timeout(120000);
    stack = await sharedStack();
    api = new Api(stack.url, stack.token);
  });

  it('after a restart, a custom-token URL works again and a generated-token URL is replaced', async () => {
    const box = `rs-${Date.now().toString(36)}`;
    await api.ok('POST', '/sandboxes', { id: box });
    const a = await startEcho(api, box);
    const b = await startEcho(api, box);
    const stable = (await api.ok('POST', `/sandboxes/${box}/ports`, { port: a.port, token: 'stable' })).url;
    const temp = (await api.ok('POST', `/sandboxes/${box}/ports`, { port: b.port })).url;
    assert.equal((await previewRequest(`${temp}echo`)).status, 200);

    await killAgent(stack, api, box);
    const events = await api.stream('/events');
    await events.waitFor((m) => m.event === 'hello');
    // The next call starts a fresh container; the services start again on the same ports.
    await startEcho(api, box, { port: a.port });
    await startEcho(api, box, { port: b.port });

    assert.equal((await previewRequest(`${stable}echo`)).status, 200, 'custom token: same URL, no new exposePort');
    assert.equal((await previewRequest(`${temp}echo`)).status, 404, 'generated token: the old URL is gone');
    const { ports } = await api.ok('GET', `/sandboxes/${box}/ports`);
    const fresh = ports.find((p: any) => p.port === b.port).url;
    assert.notEqual(fresh, temp);
    assert.equal(ports.find((p: any) => p.port === a.port).url, stable);
    assert.equal((await previewRequest(`${fresh}echo`)).status, 200);
    const pushed = changeEvents(events).find((e) => e.type === 'port-exposed' && e.sandboxId === box);
    assert.equal(pushed?.port.url, fresh, 'the new URL is pushed to clients');
    events.close();
  });

  it('reports the ports its own processes listen on, with pid and process id, and pushes detected/closed events', async () => {
    const box = `dp-${Date.now().toString(36)}`;
    const other = `dq-${Date.now().toString(36)}`;
    await api.ok('POST', '/sandboxes', { id: box });
    await api.ok('POST', '/sandboxes', { id: other });
    const stream = await api.stream('/events');
    await stream.waitFor((m) => m.event === 'hello');
    const svc = await startEcho(api, box);
    const detected = await stream.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'port-detected' && JSON.parse(m.data).port.port === svc.port);
    const event = JSON.parse(detected.data);
    assert.equal(event.sandboxId, box);
    assert.equal(event.port.processId, svc.id);
    assert.equal(event.port.pid, svc.pid);
    assert.equal(event.port.address, '0.0.0.0');

    const mine = await api.ok('GET', `/sandboxes/${box}/ports/detected`);
    assert.ok(mine.ports.some((p: any) => p.port === svc.port && p.processId === svc.id));
    const theirs = await api.ok('GET', `/sandboxes/${other}/ports/detected`);
    assert.ok(!theirs.ports.some((p: any) => p.port === svc.port), 'not another sandbox’s');
    assert.ok(!theirs.ports.some((p: any) => p.port === stack.port), 'not the host’s');
    const state = await api.ok('GET', `/sandboxes/${box}`);
    assert.ok(state.detectedPorts.some((p: any) => p.port === svc.port));

    await api.ok('DELETE', `/sandboxes/${box}/processes/${svc.id}`);
    await stream.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'port-closed' && JSON.parse(m.data).port === svc.port);
    stream.close();
  });
});

describe('preview URLs › the Worker restarts while the sandbox keeps running', function () {
  this.timeout(120000);

  it('keeps serving the same generated-token URL, with no API call in between', async () => {
    const stack = await newStack();
    const api = new Api(stack.url, stack.token);
    const box = 'keeps-running';
    await api.ok('POST', '/sandboxes', { id: box });
    const svc = await startEcho(api, box);
    const url = (await api.ok('POST', `/sandboxes/${box}/ports`, { port: svc.port })).url;
    assert.equal((await previewRequest(`${url}echo`)).status, 200);
    await (stack as unknown as { restartWorker(): Promise<void> }).restartWorker();
    const r = await previewRequest(`${url}echo`);
    assert.equal(r.status, 200, r.text);
    const state = await api.ok('GET', `/sandboxes/${box}`);
    assert.equal(state.status, 'running');
    assert.ok(
      state.processes.some((p: any) => p.id === svc.id && p.status === 'running'),
      'its processes are still listed',
    );
    assert.equal(state.ports[0].url, url);

    // One preview hostname names one exposure: `rel-m` + `x-tok` and `rel-m-x` + `tok` would both be
    // {port}-rel-m-x-tok. The second is refused, in either order, and the first still answers
    // after another Worker restart.
    for (const [first, second] of [
      [
        { id: 'rel-m', token: 'x-tok' },
        { id: 'rel-m-x', token: 'tok' },
      ],
      [
        { id: 'ord-b-y', token: 'tok' },
        { id: 'ord-b', token: 'y-tok' },
      ],
    ]) {
      for (const s of [first, second]) await api.ok('POST', '/sandboxes', { id: s!.id });
      const owner = await startEcho(api, first!.id);
      const taken = await api.ok('POST', `/sandboxes/${first!.id}/ports`, { port: owner.port, token: first!.token });
      const refused = await api.call('POST', `/sandboxes/${second!.id}/ports`, { port: owner.port, token: second!.token });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.code, 'TOKEN_CONFLICT');
      assert.match(refused.body.error, new RegExp(`sandbox '${first!.id}' port ${owner.port}`));
      assert.equal((await api.ok('GET', `/sandboxes/${second!.id}/ports`)).count, 0);
      assert.equal((await previewRequest(`${taken.url}echo`)).status, 200);
    }
    await (stack as unknown as { restartWorker(): Promise<void> }).restartWorker();
    const again = await api.ok('GET', '/sandboxes/rel-m/ports');
    assert.equal((await previewRequest(`${again.ports[0].url}echo`)).status, 200, 'the first exposure still answers');
    await stack.stop();
  });
});

describe('preview URLs › made-up hosts', function () {
  this.timeout(120000);

  it('answers 404 to 500 probes of random preview hosts without creating any Durable Object state', async () => {
    const stack = await sharedStack();
    // One database file per Durable Object that ever stored anything. Its -wal and -shm files come
    // and go as objects open and close, so they are not counted.
    const count = (dir: string): number => {
      let n = 0;
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) n += entry.isDirectory() ? count(path.join(dir, entry.name)) : entry.name.endsWith('.sqlite') ? 1 : 0;
      return n;
    };
    const storage = path.join(stack.stateDir, 'wrangler');
    const probe = (i: number) => previewRequest(`http://${40000 + (i % 20000)}-made-up-${i.toString(36)}-tok${i}.localhost:${stack.port}/`);
    assert.equal((await probe(0)).status, 404);
    const before = count(storage);
    for (let i = 1; i <= 500; i += 25) {
      const answers = await Promise.all(Array.from({ length: 25 }, (_, k) => probe(i + k)));
      for (const a of answers) {
        assert.equal(a.status, 404);
        assert.equal(a.json().code, 'INVALID_TOKEN');
      }
    }
    assert.equal(count(storage), before, 'no Durable Object storage was created');
  });
});
