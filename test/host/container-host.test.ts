import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { Client, processGone, startHost, waitUntil, type HostUnderTest } from '../helpers/agent-process';

describe('local container host (real host and agent processes)', function () {
  this.timeout(30000);
  let host: HostUnderTest;
  const api = () => host.client;
  const agentClient = (agent: { port: number; secret: string }) => new Client(`http://127.0.0.1:${agent.port}`, agent.secret);

  before(async () => {
    host = await startHost();
  });
  after(async () => {
    await host?.stop();
  });

  describe('GET /health', () => {
    it('answers ok', async () => {
      assert.deepEqual(await api().ok('GET', '/health'), { ok: true });
    });
  });

  describe('POST /containers/:key/start', () => {
    it('runs one agent per key, each on its own loopback port with its own workspace', async () => {
      const a = await api().ok('POST', '/containers/box-a/start', { env: { GREETING: 'from-a' } });
      const b = await api().ok('POST', '/containers/box-b/start', {});
      assert.notEqual(a.port, b.port);
      assert.deepEqual(await agentClient(a).ok('GET', '/health'), { ok: true, sandboxId: 'box-a' });
      assert.deepEqual(await agentClient(b).ok('GET', '/health'), { ok: true, sandboxId: 'box-b' });
      const r = await agentClient(a).ok('POST', '/exec', { command: 'echo "$GREETING"; pwd' });
      assert.equal(r.stdout, `from-a\n${path.join(host.stateDir, 'workspaces', 'box-a')}\n`);
    });

    it('adopts a running agent instead of starting a second one', async () => {
      const first = await api().ok('POST', '/containers/box-a/start', {});
      const state = await api().ok('GET', '/containers/box-a');
      const again = await api().ok('POST', '/containers/box-a/start', {});
      assert.equal(again.port, first.port);
      assert.deepEqual(await api().ok('GET', '/containers/box-a'), state);
      assert.equal(state.running, true);
      assert.equal(state.port, first.port);
    });

    it('refuses keys that are not sandbox ids or that would name another folder', async () => {
      for (const key of ['-bad', 'www', 'a'.repeat(64)]) {
        const r = await api().call('POST', `/containers/${encodeURIComponent(key)}/start`, {});
        assert.equal(r.status, 400, key);
        assert.equal(r.body.code, 'INVALID_SANDBOX_ID');
      }
      // '..' never names a container: the path is normalised before routing (fetch would do it
      // already, so a raw request sends it as it is).
      const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers = { [LOCAL_SECRET_HEADER]: host.secret, 'content-type': 'application/json' };
        const req = http.request({ host: '127.0.0.1', port: host.port, method: 'POST', path: '/containers/%2E%2E/start', headers }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end('{}');
      });
      assert.equal(raw.status, 404);
      assert.match(raw.body, /No route for POST \/start/);
    });
  });

  describe('GET /containers/:key/wait', () => {
    it('answers at once when no agent runs', async () => {
      assert.deepEqual(await api().ok('GET', '/containers/nobody/wait'), { exitCode: null, signal: null, running: false });
      assert.deepEqual(await api().ok('GET', '/containers/nobody'), { running: false });
    });

    it('answers when the agent is killed from outside, and its process groups die with it', async () => {
      const started = await api().ok('POST', '/containers/box-kill/start', {});
      const agent = agentClient(started);
      const sleeper = await agent.ok('POST', '/processes', { command: 'sleep 1000' });
      const { pid: agentPid } = await api().ok('GET', '/containers/box-kill');
      // With the pid, the answer is the same whether the wait or the kill gets there first.
      const waiting = api().ok('GET', `/containers/box-kill/wait?pid=${agentPid}`);
      process.kill(agentPid, 'SIGKILL');
      assert.deepEqual(await waiting, { exitCode: null, signal: 'SIGKILL' });
      await waitUntil(() => processGone(sleeper.pid), 'the sleep died with its agent', 5000);
      assert.deepEqual(await api().ok('GET', '/containers/box-kill'), { running: false });
      assert.ok(!fs.existsSync(path.join(host.stateDir, 'agents', 'box-kill.pgids')));
      const restarted = await api().ok('POST', '/containers/box-kill/start', {});
      assert.deepEqual(await agentClient(restarted).ok('GET', '/health'), { ok: true, sandboxId: 'box-kill' });
    });
  });

  describe('POST /containers/:key/signal', () => {
    it('sends a signal number to the agent, which ends its processes and exits 0 on SIGTERM', async () => {
      const started = await api().ok('POST', '/containers/box-term/start', {});
      const sleeper = await agentClient(started).ok('POST', '/processes', { command: 'sleep 1000' });
      const waiting = api().ok('GET', '/containers/box-term/wait');
      assert.deepEqual(await api().ok('POST', '/containers/box-term/signal', { signal: 15 }), { sent: true });
      assert.deepEqual(await waiting, { exitCode: 0, signal: null });
      assert.ok(processGone(sleeper.pid));
      const bad = await api().call('POST', '/containers/box-term/signal', { signal: 'TERM' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'INVALID_SIGNAL');
    });
  });

  describe('DELETE /containers/:key', () => {
    it('stops the agent and its processes, and with purge=1 removes the workspace', async () => {
      const started = await api().ok('POST', '/containers/box-del/start', {});
      const sleeper = await agentClient(started).ok('POST', '/processes', { command: 'sleep 1000' });
      await agentClient(started).ok('PUT', '/files?path=keep.txt', 'x');
      const workspace = path.join(host.stateDir, 'workspaces', 'box-del');
      assert.ok(fs.existsSync(path.join(workspace, 'keep.txt')));
      assert.equal((await api().call('DELETE', '/containers/box-del')).status, 204);
      assert.ok(processGone(sleeper.pid));
      assert.ok(fs.existsSync(workspace), 'kept without purge');
      assert.equal((await api().call('DELETE', '/containers/box-del?purge=1')).status, 204);
      assert.ok(!fs.existsSync(workspace));
    });
  });

  describe('SIGTERM', () => {
    it('stops every agent and every process they started, then exits', async () => {
      const own = await startHost();
      try {
        const pids: number[] = [];
        for (const key of ['t-1', 't-2']) {
          const started = await own.client.ok('POST', `/containers/${key}/start`, {});
          pids.push((await own.client.ok('GET', `/containers/${key}`)).pid);
          pids.push((await agentClient(started).ok('POST', '/processes', { command: 'sleep 1000' })).pid);
        }
        await own.stop('SIGTERM');
        assert.equal(own.child.exitCode, 0);
        for (const pid of pids) await waitUntil(() => processGone(pid), `pid ${pid} is gone`, 5000);
      } finally {
        await own.stop('SIGKILL');
      }
    });

    it('agents stop with their host even when the host is SIGKILLed', async () => {
      const own = await startHost();
      const started = await own.client.ok('POST', '/containers/orphan/start', {});
      const agentPid = (await own.client.ok('GET', '/containers/orphan')).pid;
      const sleeper = await agentClient(started).ok('POST', '/processes', { command: 'sleep 1000' });
      own.child.kill('SIGKILL');
      await waitUntil(() => processGone(agentPid) && processGone(sleeper.pid), 'the agent and its sleep are gone', 5000);
      // Only now that nothing writes into the state folder can it be removed.
      await own.stop('SIGKILL');
    });
  });
});
