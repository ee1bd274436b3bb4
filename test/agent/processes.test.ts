import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, processGone, useAgent, waitUntil } from '../helpers/agent-process';

describe('agent › processes (real agent process)', function () {
  this.timeout(30000);
  const agent = useAgent();
  const api = () => agent().client;

  describe('POST /processes', () => {
    it('starts python3 -m http.server and waitForPort resolves once it serves', async () => {
      const port = await freePort();
      const proc = await api().ok('POST', '/processes', { command: `python3 -m http.server ${port} --bind 127.0.0.1` });
      assert.equal(proc.status, 'running');
      assert.ok(proc.pid > 0);
      assert.match(proc.id, /^proc-[a-z0-9]{8}$/);
      assert.equal(proc.cwd, '/workspace');
      assert.deepEqual(await api().ok('POST', `/processes/${proc.id}/wait-for-port`, { port, timeout: 15000, interval: 100 }), {
        ready: true,
      });
      assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });

    it('runs in a /workspace sub-folder, with the user env and without the agent settings', async () => {
      fs.mkdirSync(path.join(agent().workspace, 'app'), { recursive: true });
      const proc = await api().ok('POST', '/processes', {
        command: 'echo "$PWD|$GREETING|${SANDBOX_PGID_FILE:-unset}|${SANDBOX_WORKSPACE:-unset}"',
        cwd: '/workspace/app',
        env: { GREETING: 'hello' },
      });
      assert.equal(proc.cwd, '/workspace/app');
      await api().ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 5000 });
      const logs = await api().ok('GET', `/processes/${proc.id}/logs`);
      assert.equal(logs.stdout, `${path.join(agent().workspace, 'app')}|hello|unset|unset\n`);
    });

    it('answers 201 with status "error" when the working directory does not exist', async () => {
      const r = await api().call('POST', '/processes', { command: 'true', cwd: 'missing/dir' });
      assert.equal(r.status, 201);
      assert.equal(r.body.status, 'error');
      assert.equal(r.body.pid, null);
      const logs = await api().ok('GET', `/processes/${r.body.id}/logs`);
      assert.match(logs.stderr, /working directory \/workspace\/missing\/dir does not exist/);
    });

    it('refuses a cwd outside the workspace with 403', async () => {
      const r = await api().call('POST', '/processes', { command: 'true', cwd: '/etc' });
      assert.equal(r.status, 403);
      assert.equal(r.body.code, 'PATH_OUTSIDE_WORKSPACE');
    });

    it('uses a given processId, refusing it while a process with that id runs', async () => {
      const first = await api().call('POST', '/processes', { command: 'sleep 30', processId: 'web-1' });
      assert.equal(first.status, 201);
      assert.equal(first.body.id, 'web-1');
      const clash = await api().call('POST', '/processes', { command: 'sleep 30', processId: 'web-1' });
      assert.equal(clash.status, 409);
      assert.equal(clash.body.code, 'PROCESS_ID_IN_USE');
      await api().ok('DELETE', '/processes/web-1?signal=SIGKILL');
      await api().ok('POST', '/processes/web-1/wait-for-exit', { timeout: 5000 });
      const again = await api().call('POST', '/processes', { command: 'true', processId: 'web-1' });
      assert.equal(again.status, 201, 'an exited process frees its id');
      const bad = await api().call('POST', '/processes', { command: 'true', processId: '../x' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'INVALID_PROCESS_ID');
    });

    it('keeps the pgid file listing exactly the running process groups', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'sleep 30' });
      const listed = () => fs.readFileSync(agent().pgidFile, 'utf8').split('\n').filter(Boolean).map(Number);
      assert.ok(listed().includes(proc.pid));
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
      await waitUntil(() => !listed().includes(proc.pid), 'the group leaves the pgid file', 5000);
    });
  });

  describe('statuses', () => {
    it('maps exit 0 to completed and another code to failed', async () => {
      const ok = await api().ok('POST', '/processes', { command: 'exit 0' });
      const bad = await api().ok('POST', '/processes', { command: 'exit 3' });
      assert.deepEqual(await api().ok('POST', `/processes/${ok.id}/wait-for-exit`, { timeout: 5000 }), { exitCode: 0 });
      assert.deepEqual(await api().ok('POST', `/processes/${bad.id}/wait-for-exit`, { timeout: 5000 }), { exitCode: 3 });
      assert.equal((await api().ok('GET', `/processes/${ok.id}`)).status, 'completed');
      const failed = await api().ok('GET', `/processes/${bad.id}`);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.exitCode, 3);
      assert.ok(failed.endTime);
    });

    it('honours the signal: SIGTERM and SIGKILL both end as killed, with the signal named', async () => {
      for (const signal of ['SIGTERM', 'SIGKILL']) {
        const proc = await api().ok('POST', '/processes', { command: 'sleep 60' });
        assert.equal((await api().call('DELETE', `/processes/${proc.id}?signal=${signal}`)).status, 204);
        await api().ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 5000 });
        const info = await api().ok('GET', `/processes/${proc.id}`);
        assert.equal(info.status, 'killed');
        assert.equal(info.signal, signal);
        assert.equal(info.exitCode, signal === 'SIGTERM' ? 143 : 137, 'as a shell reports it: 128 + the signal');
      }
    });

    it('escalates: a process that ignores SIGTERM gets SIGKILL after the grace period, and ends killed (137)', async () => {
      const proc = await api().ok('POST', '/processes', { command: `trap '' TERM; echo armed; while true; do sleep 0.05; done` });
      await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'armed', timeout: 5000 });
      assert.equal((await api().call('DELETE', `/processes/${proc.id}?signal=SIGTERM&graceMs=300`)).status, 204);
      const { exitCode } = await api().ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 10000 });
      assert.equal(exitCode, 137);
      const info = await api().ok('GET', `/processes/${proc.id}`);
      assert.equal(info.status, 'killed');
      assert.equal(info.signal, 'SIGKILL');
      for (const bad of ['-1', 'soon', '99999999999']) {
        const r = await api().call('DELETE', `/processes/${proc.id}?signal=SIGTERM&graceMs=${bad}`);
        assert.equal(r.status, 400, bad);
        assert.match(r.body.error, /graceMs must be an integer/);
      }
    });

    it('a process that traps SIGTERM survives it and dies by SIGKILL', async () => {
      const proc = await api().ok('POST', '/processes', { command: `trap 'echo got TERM' TERM; echo armed; while true; do sleep 0.05; done` });
      await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'armed', timeout: 5000 });
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGTERM`);
      await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'got TERM', timeout: 5000 });
      assert.equal((await api().ok('GET', `/processes/${proc.id}`)).status, 'running');
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
      await api().ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 5000 });
      assert.equal((await api().ok('GET', `/processes/${proc.id}`)).signal, 'SIGKILL');
    });
  });

  describe('DELETE /processes/:id', () => {
    it('kills the whole process group: the shell and the children it spawned', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'sleep 300 & echo "child $!"; sleep 300 & wait' });
      const found = await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'child (\\d+)', regex: true, timeout: 5000 });
      const child = Number(found.match[1]);
      assert.ok(!processGone(child));
      await api().ok('DELETE', `/processes/${proc.id}`);
      await waitUntil(() => processGone(child), 'the child died with its shell', 5000);
    });

    it('is idempotent on an exited process and says 404 for an unknown one', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'true' });
      await api().ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 5000 });
      assert.equal((await api().call('DELETE', `/processes/${proc.id}`)).status, 204);
      assert.equal((await api().call('DELETE', `/processes/${proc.id}`)).status, 204);
      const unknown = await api().call('DELETE', '/processes/nope');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.code, 'PROCESS_NOT_FOUND');
    });

    it('refuses an unknown signal with 400 INVALID_SIGNAL', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'sleep 30' });
      const r = await api().call('DELETE', `/processes/${proc.id}?signal=SIGBOGUS`);
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'INVALID_SIGNAL');
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });
  });

  describe('DELETE /processes', () => {
    it('kills every running process and says how many, keeping them listed', async () => {
      await api().ok('DELETE', '/processes');
      const a = await api().ok('POST', '/processes', { command: 'sleep 60' });
      const b = await api().ok('POST', '/processes', { command: 'sleep 60' });
      assert.deepEqual(await api().ok('DELETE', '/processes'), { killed: 2 });
      const { processes } = await api().ok('GET', '/processes');
      for (const id of [a.id, b.id]) assert.equal(processes.find((p: any) => p.id === id).status, 'killed');
      assert.ok(processGone(a.pid) && processGone(b.pid));
    });
  });

  describe('POST /processes/:id/wait-for-exit', () => {
    it('times out with 408 TIMEOUT', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'sleep 30' });
      const r = await api().call('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 200 });
      assert.equal(r.status, 408);
      assert.equal(r.body.code, 'TIMEOUT');
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });
  });

  describe('POST /exec', () => {
    it('reports exit code, stdout and stderr', async () => {
      const r = await api().ok('POST', '/exec', { command: 'echo out; echo err >&2; exit 7' });
      assert.equal(r.success, false);
      assert.equal(r.exitCode, 7);
      assert.equal(r.stdout, 'out\n');
      assert.equal(r.stderr, 'err\n');
      assert.equal(r.command, 'echo out; echo err >&2; exit 7');
      assert.equal(typeof r.duration, 'number');
      const ok = await api().ok('POST', '/exec', { command: 'pwd', cwd: '/workspace' });
      assert.equal(ok.success, true);
      assert.equal(ok.stdout.trim(), agent().workspace);
    });

    it('kills the whole command on timeout and answers 408 TIMEOUT with what it printed so far', async () => {
      const r = await api().call('POST', '/exec', { command: 'sleep 30 & echo "child $!"; echo oops >&2; wait', timeout: 300 });
      assert.equal(r.status, 408);
      assert.equal(r.body.code, 'TIMEOUT');
      assert.match(r.body.error, /did not finish within 300ms/);
      assert.equal(r.body.details.exitCode, 124);
      assert.equal(r.body.details.stderr, 'oops\n');
      const child = Number(/child (\d+)/.exec(r.body.details.stdout)![1]);
      await waitUntil(() => processGone(child), 'the timed-out child died', 5000);
    });

    it('does not wait for a background child that keeps its output open', async () => {
      const started = Date.now();
      const r = await api().ok('POST', '/exec', { command: 'sleep 5 & echo done' });
      assert.ok(Date.now() - started < 3000, 'answered without waiting for the background sleep');
      assert.equal(r.stdout, 'done\n');
    });
  });
});
