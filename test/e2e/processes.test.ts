import assert from 'node:assert/strict';
import { Api } from '../helpers/api';
import { freePort, eventually } from '../helpers/net';
import { sharedStack } from '../helpers/stack';

describe('control API › processes (real Worker, real agent)', function () {
  this.timeout(60000);
  let api: Api;
  const box = `proc-${Date.now().toString(36)}`;
  const base = `/sandboxes/${box}`;

  before(async function () {
    this.timeout(120000);
    const stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    const created = await api.call('POST', '/sandboxes', { id: box });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, 'running');
  });

  it('creates once: a second create answers 200 with the same sandbox', async () => {
    const again = await api.call('POST', '/sandboxes', { id: box });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, box);
    const list = await api.ok('GET', '/sandboxes');
    assert.ok(list.sandboxes.some((s: any) => s.id === box && s.status === 'running'));
  });

  it('starts python3 -m http.server and waitForPort resolves once it serves', async () => {
    const port = await freePort();
    const proc = await api.ok('POST', `${base}/processes`, { command: `python3 -m http.server ${port} --bind 0.0.0.0` });
    assert.equal(proc.status, 'running');
    assert.ok(proc.pid > 0);
    const ready = await api.call('POST', `${base}/processes/${proc.id}/wait-for-port`, { port, timeout: 20000 });
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    // It serves inside the sandbox; nothing of it appears on this machine's loopback.
    const inside = await api.ok('POST', `${base}/exec`, { command: `python3 -c "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:${port}/').status)"` });
    assert.equal(inside.stdout.trim(), '200');
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
    await api.ok('DELETE', `${base}/processes/${proc.id}`);
  });

  it('waitForLog finds "Server ready" from a Node server, even when printed before the wait', async () => {
    const port = await freePort();
    await api.ok(
      'PUT',
      `${base}/files?path=/workspace/server.js`,
      `require('http').createServer((q, s) => s.end('hi')).listen(${port}, () => console.log('Server ready on ${port}'));`,
    );
    const proc = await api.ok('POST', `${base}/processes`, { command: 'node server.js' });
    const found = await api.ok('POST', `${base}/processes/${proc.id}/wait-for-log`, { pattern: 'Server ready', timeout: 20000 });
    assert.match(found.line, /Server ready on \d+/);
    // Asked again after the line was printed: earlier output counts.
    const again = await api.ok('POST', `${base}/processes/${proc.id}/wait-for-log`, { pattern: 'ready on (\\d+)', regex: true, timeout: 5000 });
    assert.equal(again.match[1], String(port));
    await api.ok('DELETE', `${base}/processes/${proc.id}?signal=SIGKILL`);
  });

  it('honours SIGTERM and SIGKILL: a process that ignores SIGTERM survives it and dies by SIGKILL', async () => {
    const proc = await api.ok('POST', `${base}/processes`, {
      command: `python3 -c "import signal,time; signal.signal(signal.SIGTERM, lambda *a: print('got TERM', flush=True)); print('armed', flush=True); time.sleep(600)"`,
    });
    await api.ok('POST', `${base}/processes/${proc.id}/wait-for-log`, { pattern: 'armed', timeout: 10000 });
    assert.equal((await api.call('DELETE', `${base}/processes/${proc.id}?signal=SIGTERM`)).status, 204);
    await api.ok('POST', `${base}/processes/${proc.id}/wait-for-log`, { pattern: 'got TERM', timeout: 10000 });
    assert.equal((await api.ok('GET', `${base}/processes/${proc.id}`)).status, 'running');
    assert.equal((await api.call('DELETE', `${base}/processes/${proc.id}?signal=SIGKILL`)).status, 204);
    await api.ok('POST', `${base}/processes/${proc.id}/wait-for-exit`, { timeout: 10000 });
    const info = await api.ok('GET', `${base}/processes/${proc.id}`);
    assert.equal(info.status, 'killed');
  });

  it('escalates a kill: SIGTERM ignored, SIGKILL after graceMs; the process ends killed with exit code 137', async () => {
    const proc = await api.ok('POST', `${base}/processes`, { command: `trap '' TERM; echo armed; while true; do sleep 0.05; done` });
    await api.ok('POST', `${base}/processes/${proc.id}/wait-for-log`, { pattern: 'armed', timeout: 10000 });
    assert.equal((await api.call('DELETE', `${base}/processes/${proc.id}?signal=SIGTERM&graceMs=300`)).status, 204);
    assert.deepEqual(await api.ok('POST', `${base}/processes/${proc.id}/wait-for-exit`, { timeout: 10000 }), { exitCode: 137 });
    const info = await api.ok('GET', `${base}/processes/${proc.id}`);
    assert.equal(info.status, 'killed');
    assert.equal(info.signal, 'SIGKILL');
    const bad = await api.call('DELETE', `${base}/processes/${proc.id}?graceMs=later`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /graceMs/);
  });

  it('kills the whole process group: a shell and the children it spawned', async () => {
    const proc = await api.ok('POST', `${base}/processes`, { command: 'sleep 300 & sleep 301 & echo "children $!"; wait' });
    const { line } = await api.ok('POST', `${base}/processes/${proc.id}/wait-for-log`, { pattern: 'children', timeout: 10000 });
    // The pid is the sandbox's own (its pid namespace): asked about inside.
    const child = Number(line.split(' ')[1]);
    const alive = async () => (await api.ok('POST', `${base}/exec`, { command: `kill -0 ${child} 2>/dev/null && echo alive || echo gone` })).stdout.trim() === 'alive';
    assert.ok(await alive(), 'the child runs before the kill');
    await api.ok('DELETE', `${base}/processes/${proc.id}`);
    await eventually(async () => !(await alive()), 10000, 'the child process is gone');
  });

  it('exec past its timeout ends the command and answers 408 TIMEOUT with the output so far', async () => {
    const r = await api.call('POST', `${base}/exec`, { command: 'echo started; sleep 30', timeout: 300 });
    assert.equal(r.status, 408, JSON.stringify(r.body));
    assert.equal(r.body.code, 'TIMEOUT');
    assert.match(r.body.error, /did not finish within 300ms/);
    assert.equal(r.body.details.stdout, 'started\n');
    assert.equal(r.body.details.exitCode, 124);
  });

  it('exec reports exit codes, stdout and stderr', async () => {
    const ok = await api.ok('POST', `${base}/exec`, { command: 'echo out; echo err >&2' });
    assert.equal(ok.success, true);
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.stdout, 'out\n');
    assert.equal(ok.stderr, 'err\n');
    const bad = await api.ok('POST', `${base}/exec`, { command: 'exit 3' });
    assert.equal(bad.success, false);
    assert.equal(bad.exitCode, 3);
    const missing = await api.ok('POST', `${base}/exec`, { command: 'no-such-command-here' });
    assert.equal(missing.exitCode, 127);
    assert.match(missing.stderr, /not found/);
  });

  it('maps exits to statuses: completed, failed', async () => {
    const done = await api.ok('POST', `${base}/processes`, { command: 'true' });
    const fail = await api.ok('POST', `${base}/processes`, { command: 'exit 7' });
    await api.ok('POST', `${base}/processes/${done.id}/wait-for-exit`, { timeout: 10000 });
    const exit = await api.ok('POST', `${base}/processes/${fail.id}/wait-for-exit`, { timeout: 10000 });
    assert.equal(exit.exitCode, 7);
    assert.equal((await api.ok('GET', `${base}/processes/${done.id}`)).status, 'completed');
    assert.equal((await api.ok('GET', `${base}/processes/${fail.id}`)).status, 'failed');
  });

  it('waitForPort times out with the SPEC message', async () => {
    const port = await freePort();
    const proc = await api.ok('POST', `${base}/processes`, { command: 'sleep 60' });
    const r = await api.call('POST', `${base}/processes/${proc.id}/wait-for-port`, { port, timeout: 1200, interval: 100, path: '/health' });
    assert.equal(r.status, 408);
    assert.equal(r.body.code, 'TIMEOUT');
    assert.equal(r.body.error, `Process did not become ready within 1200ms. Waiting for: port ${port} (HTTP /health)`);
    const tcp = await api.call('POST', `${base}/processes/${proc.id}/wait-for-port`, { port, timeout: 500, mode: 'tcp' });
    assert.match(tcp.body.error, new RegExp(`Waiting for: port ${port} \\(TCP\\)`));
    await api.ok('DELETE', `${base}/processes/${proc.id}?signal=SIGKILL`);
  });

  it('waitForPort fails at once when the process exits before it is ready', async () => {
    const port = await freePort();
    const proc = await api.ok('POST', `${base}/processes`, { command: 'sleep 0.3; exit 4' });
    const r = await api.call('POST', `${base}/processes/${proc.id}/wait-for-port`, { port, timeout: 20000 });
    assert.equal(r.status, 409);
    assert.match(r.body.error, /^Process exited with code 4 before becoming ready/);
  });

  it('streams logs with event ids, and a stream resumed from the last id has no gap and no duplicate', async () => {
    const proc = await api.ok('POST', `${base}/processes`, {
      command: `python3 -c "import time
for i in range(40):
    print('line', i, flush=True); time.sleep(0.02)"`,
    });
    const first = await api.stream(`${base}/processes/${proc.id}/logs/stream`);
    // Chunks are what the process wrote, so a line may come in pieces: cut once 'line 10' is whole.
    const textUpTo = (m: { data: string }) =>
      first.messages
        .slice(0, first.messages.indexOf(m as never) + 1)
        .filter((x) => x.event === 'log')
        .map((x) => JSON.parse(x.data).data)
        .join('');
    const cut = await first.waitFor((m) => m.event === 'log' && textUpTo(m).includes('line 10\n'));
    first.close();
    const resumed = await api.stream(`${base}/processes/${proc.id}/logs/stream`, cut.id);
    await resumed.waitFor((m) => m.event === 'exit', 20000);
    const upToCut = first.messages.slice(0, first.messages.indexOf(cut) + 1);
    const text = [...upToCut, ...resumed.messages]
      .filter((m) => m.event === 'log')
      .map((m) => JSON.parse(m.data).data)
      .join('');
    const lines = text.trim().split('\n');
    assert.deepEqual(
      lines,
      Array.from({ length: 40 }, (_, i) => `line ${i}`),
    );
    const ids = [...upToCut, ...resumed.messages].filter((m) => m.id).map((m) => Number(m.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'ids increase',
    );
    assert.equal(new Set(ids).size, ids.length, 'no id twice');
  });

  it('lists processes and kills all running ones', async () => {
    await api.ok('POST', `${base}/processes`, { command: 'sleep 100' });
    await api.ok('POST', `${base}/processes`, { command: 'sleep 100' });
    const { processes } = await api.ok('GET', `${base}/processes`);
    assert.ok(processes.filter((p: any) => p.status === 'running').length >= 2);
    const { killed } = await api.ok('DELETE', `${base}/processes`);
    assert.ok(killed >= 2);
    await eventually(async () => (await api.ok('GET', `${base}/processes`)).processes.every((p: any) => p.status !== 'running'), 10000, 'all stopped');
  });
});
