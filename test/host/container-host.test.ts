import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { agentClient as clientFor, markedAlive, markedSleep, processGone, startHost, waitUntil, type AgentState, type HostUnderTest } from '../helpers/agent-process';

for (const mode of ['namespaces', 'none'] as const)
  describe(`local container host, isolation ${mode} (real host and agent processes)`, function () {
    this.timeout(30000);
    let host: HostUnderTest;
    const api = () => host.client;
    const agentClient = (agent: AgentState) => clientFor(agent);
    const start = (client: HostUnderTest['client'], key: string, body: unknown = {}): Promise<AgentState> => client.ok('POST', `/containers/${key}/start`, body);
    const sleeper = async (agent: AgentState): Promise<string> => {
      const { command, mark } = markedSleep();
      await agentClient(agent).ok('POST', '/processes', { command });
      await waitUntil(() => markedAlive(mark), 'the sleep runs', 5000);
      return mark;
    };

    before(async () => {
      host = await startHost({ SANDBOX_ISOLATION: mode });
    });
    after(async () => {
      await host?.stop();
    });

    describe('GET /health', () => {
      it('answers ok and says how it runs sandboxes', async () => {
        const health = await api().ok('GET', '/health');
        assert.equal(health.ok, true);
        assert.equal(health.isolation, mode);
        if (mode === 'none') assert.match(health.reason, /SANDBOX_ISOLATION=none/);
        else assert.equal(health.reason, undefined);
        const relay = await api().call('GET', '/containers/box-x/ports/8000/relay');
        if (mode === 'none') assert.equal(relay.status, 404, 'no relay: ports are on this machine');
        else assert.ok(relay.body.port > 0);
      });
    });

    describe('POST /containers/:key/start', () => {
      it('runs one agent per key, each on its own loopback port with its own workspace', async () => {
        const a = await start(api(), 'box-a', { env: { GREETING: 'from-a' } });
        const b = await start(api(), 'box-b');
        if (mode === 'none') assert.notEqual(a.port, b.port);
        assert.deepEqual(await agentClient(a).ok('GET', '/health'), { ok: true, sandboxId: 'box-a' });
        assert.deepEqual(await agentClient(b).ok('GET', '/health'), { ok: true, sandboxId: 'box-b' });
        await agentClient(a).ok('PUT', '/files?path=/workspace/mine.txt', 'a');
        assert.ok(fs.existsSync(path.join(host.stateDir, 'workspaces', 'box-a', 'mine.txt')));
        const r = await agentClient(a).ok('POST', '/exec', { command: 'echo "$GREETING"; pwd' });
        assert.equal(r.stdout, `from-a\n${mode === 'none' ? path.join(host.stateDir, 'workspaces', 'box-a') : '/workspace'}\n`);
      });

      it('adopts a running agent instead of starting a second one', async () => {
        const first = await start(api(), 'box-a');
        const state = await api().ok('GET', '/containers/box-a');
        const again = await start(api(), 'box-a');
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
        const started = await start(api(), 'box-kill');
        const mark = await sleeper(started);
        const { pid: agentPid } = await api().ok('GET', '/containers/box-kill');
        // With the pid, the answer is the same whether the wait or the kill gets there first.
        const waiting = api().ok('GET', `/containers/box-kill/wait?pid=${agentPid}`);
        process.kill(agentPid, 'SIGKILL');
        assert.deepEqual(await waiting, { exitCode: null, signal: 'SIGKILL' });
        await waitUntil(() => !markedAlive(mark), 'the sleep died with its agent', 5000);
        assert.deepEqual(await api().ok('GET', '/containers/box-kill'), { running: false });
        assert.ok(!fs.existsSync(path.join(host.stateDir, 'agents', 'box-kill.pgids')));
        const restarted = await start(api(), 'box-kill');
        assert.deepEqual(await agentClient(restarted).ok('GET', '/health'), { ok: true, sandboxId: 'box-kill' });
      });
    });

    describe('POST /containers/:key/signal', () => {
      it('sends a signal number to the agent, which ends its processes and exits 0 on SIGTERM', async () => {
        const started = await start(api(), 'box-term');
        const mark = await sleeper(started);
        const waiting = api().ok('GET', '/containers/box-term/wait');
        assert.deepEqual(await api().ok('POST', '/containers/box-term/signal', { signal: 15 }), { sent: true });
        assert.deepEqual(await waiting, { exitCode: 0, signal: null });
        await waitUntil(() => !markedAlive(mark), 'the sleep ended with its agent', 5000);
        const bad = await api().call('POST', '/containers/box-term/signal', { signal: 'TERM' });
        assert.equal(bad.status, 400);
        assert.equal(bad.body.code, 'INVALID_SIGNAL');
      });
    });

    describe('DELETE /containers/:key', () => {
      it('stops the agent and its processes, and with purge=1 removes the workspace', async () => {
        const started = await start(api(), 'box-del');
        const mark = await sleeper(started);
        await agentClient(started).ok('PUT', '/files?path=keep.txt', 'x');
        const workspace = path.join(host.stateDir, 'workspaces', 'box-del');
        assert.ok(fs.existsSync(path.join(workspace, 'keep.txt')));
        assert.equal((await api().call('DELETE', '/containers/box-del')).status, 204);
        await waitUntil(() => !markedAlive(mark), 'the sleep is gone', 5000);
        assert.ok(fs.existsSync(workspace), 'kept without purge');
        assert.equal((await api().call('DELETE', '/containers/box-del?purge=1')).status, 204);
        assert.ok(!fs.existsSync(workspace));
      });
    });

    describe('SIGTERM', () => {
      it('stops every agent and every process they started, then exits', async () => {
        const own = await startHost({ SANDBOX_ISOLATION: mode });
        try {
          const pids: number[] = [];
          const marks: string[] = [];
          for (const key of ['t-1', 't-2']) {
            const started = await start(own.client, key);
            pids.push((await own.client.ok('GET', `/containers/${key}`)).pid);
            marks.push(await sleeper(started));
          }
          await own.stop('SIGTERM');
          assert.equal(own.child.exitCode, 0);
          for (const pid of pids) await waitUntil(() => processGone(pid), `pid ${pid} is gone`, 5000);
          for (const mark of marks) await waitUntil(() => !markedAlive(mark), `sleep ${mark} is gone`, 5000);
        } finally {
          await own.stop('SIGKILL');
        }
      });

      it('agents stop with their host even when the host is SIGKILLed', async () => {
        const own = await startHost({ SANDBOX_ISOLATION: mode });
        const started = await start(own.client, 'orphan');
        const agentPid = (await own.client.ok('GET', '/containers/orphan')).pid;
        const mark = await sleeper(started);
        // Isolated, the host also runs pasta beside each agent: it must not outlive the host either.
        const helpers = fs
          .readFileSync(`/proc/${own.pid}/task/${own.pid}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .map(Number)
          .filter((p) => p !== agentPid);
        if (mode === 'namespaces') assert.ok(helpers.length > 0, 'pasta runs beside the agent');
        own.child.kill('SIGKILL');
        await waitUntil(() => processGone(agentPid) && !markedAlive(mark), 'the agent and its sleep are gone', 5000);
        for (const pid of helpers) await waitUntil(() => processGone(pid), `helper ${pid} is gone`, 5000);
        // Only now that nothing writes into the state folder can it be removed.
        await own.stop('SIGKILL');
      });
    });
  });
