import assert from 'node:assert/strict';
import { Api, changeEvents } from '../helpers/api';
import { sandboxWithEcho, startEcho } from '../helpers/services';
import { type Stack, hostState } from '../helpers/stack';

/**
 * Quick tunnels through the control API (SPEC 2.5). The stack's agents run the stand-in
 * cloudflared (test/fixtures/fake-cloudflared): no test reaches the internet.
 */
describe('tunnels › through the control API', function () {
  this.timeout(60000);
  let stack: Stack;
  let api: Api;
  let box: string;
  let base: string;
  let port: number;

  before(async function () {
    this.timeout(120000);
    ({ stack, api, box, port } = await sandboxWithEcho('tn'));
    base = `/sandboxes/${box}`;
  });

  it('creates a quick tunnel, the same record twice, listed, in the state, with a tunnel-up event', async () => {
    const events = await api.stream('/events');
    await events.waitFor((m) => m.event === 'hello');
    const first = await api.call('PUT', `${base}/tunnels/${port}`);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const t = first.body;
    assert.match(t.id, /^quick-[0-9a-z]{20}$/);
    assert.equal(t.port, port);
    assert.match(t.url, /^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    assert.equal(t.hostname, new URL(t.url).hostname);
    assert.ok(!Number.isNaN(Date.parse(t.createdAt)));
    const again = await api.ok('PUT', `${base}/tunnels/${port}`);
    assert.deepEqual(again, t, 'idempotent');
    const { tunnels } = await api.ok('GET', `${base}/tunnels`);
    assert.deepEqual(tunnels, [t]);
    await events.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'tunnel-up' && JSON.parse(m.data).tunnel.port === port);
    events.close();
    const state = await api.ok('GET', base);
    assert.deepEqual(state.tunnels, [t]);
  });

  it('destroys a tunnel (idempotent, also for unknown ports) with a tunnel-down event', async () => {
    const events = await api.stream('/events');
    await events.waitFor((m) => m.event === 'hello');
    assert.equal((await api.call('DELETE', `${base}/tunnels/${port}`)).status, 204);
    await events.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'tunnel-down' && JSON.parse(m.data).port === port);
    events.close();
    assert.equal((await api.call('DELETE', `${base}/tunnels/${port}`)).status, 204);
    assert.equal((await api.call('DELETE', `${base}/tunnels/45678`)).status, 204);
    assert.deepEqual((await api.ok('GET', `${base}/tunnels`)).tunnels, []);
  });

  it('refuses bad ports with the exposePort rules', async () => {
    for (const bad of ['3000', '80', '70000', 'abc']) {
      const r = await api.call('PUT', `${base}/tunnels/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match(r.body.error, /Port 3000 is reserved|Invalid port number/);
    }
  });

  it('loses its tunnels with the container; the next get makes a new one', async () => {
    const before = await api.ok('PUT', `${base}/tunnels/${port}`);
    const events = await api.stream('/events');
    await events.waitFor((m) => m.event === 'hello');
    const { pid } = await hostState(stack, box);
    process.kill(pid!, 'SIGKILL');
    await events.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'tunnel-down' && JSON.parse(m.data).sandboxId === box);
    events.close();
    await startEcho(api, box, { port });
    const after = await api.ok('PUT', `${base}/tunnels/${port}`);
    assert.notEqual(after.url, before.url);
    assert.notEqual(after.id, before.id);
    assert.ok(changeEvents(events).some((e) => e.type === 'sandbox-status' && e.status === 'stopped'));
  });
});
