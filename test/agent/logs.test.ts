import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { startAgent, type AgentUnderTest } from '../helpers/agent-process';

function logText(messages: Array<{ event?: string; data: string }>): string {
  return messages
    .filter((m) => m.event === 'log')
    .map((m) => JSON.parse(m.data).data)
    .join('');
}

function rssPeakMb(pid: number): number {
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

describe('agent › logs (real agent process)', function () {
  this.timeout(30000);
  let agent: AgentUnderTest;

  before(async () => {
    agent = await startAgent();
  });
  after(async () => {
    await agent?.stop();
  });

  const api = () => agent.client;
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('');

  describe('GET /processes/:id/logs', () => {
    it('returns stdout and stderr apart, not truncated', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'echo to-out; echo to-err >&2' });
      await api().ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 5000 });
      assert.deepEqual(await api().ok('GET', `/processes/${proc.id}/logs`), { stdout: 'to-out\n', stderr: 'to-err\n', truncated: false });
    });

    it('answers 404 PROCESS_NOT_FOUND for an unknown process', async () => {
      const r = await api().call('GET', '/processes/ghost/logs');
      assert.equal(r.status, 404);
      assert.equal(r.body.code, 'PROCESS_NOT_FOUND');
    });
  });

  describe('GET /processes/:id/logs/stream', () => {
    it('streams log events with increasing ids, then the exit event, then ends', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'for i in 1 2 3; do echo "line $i"; sleep 0.05; done; exit 2' });
      const stream = await api().sse(`/processes/${proc.id}/logs/stream`);
      await stream.untilEnd();
      const last = stream.messages[stream.messages.length - 1]!;
      assert.equal(last.event, 'exit');
      assert.deepEqual(JSON.parse(last.data), { type: 'exit', exitCode: 2, status: 'failed' });
      assert.equal(logText(stream.messages), lines(3));
      const ids = stream.messages.map((m) => Number(m.id));
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
      );
      assert.equal(new Set(ids).size, ids.length);
      assert.deepEqual(JSON.parse(stream.messages[0]!.data), { type: 'log', stream: 'stdout', data: 'line 1\n' });
    });

    it('resumes from Last-Event-ID with no gap and no duplicate', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'for i in $(seq 1 40); do echo "line $i"; sleep 0.01; done' });
      const first = await api().sse(`/processes/${proc.id}/logs/stream`);
      await first.waitFor(10);
      first.close();
      const seen = first.messages.filter((m) => m.event === 'log');
      const lastId = seen[seen.length - 1]!.id!;
      const resumed = await api().sse(`/processes/${proc.id}/logs/stream`, { 'last-event-id': lastId });
      await resumed.untilEnd();
      assert.equal(logText(seen) + logText(resumed.messages), lines(40));
      // The same through ?lastEventId= for clients that cannot set headers.
      const viaQuery = await api().sse(`/processes/${proc.id}/logs/stream?lastEventId=${lastId}`);
      await viaQuery.untilEnd();
      assert.equal(logText(viaQuery.messages), logText(resumed.messages));
    });

    it('says "truncated" first when the resume point was already dropped', async () => {
      const small = await startAgent({ SANDBOX_LOG_LIMIT: '1024' });
      try {
        // Separate, paced writes, so the first chunk is small and surely dropped by the 1 KiB limit.
        const proc = await small.client.ok('POST', '/processes', {
          command: `python3 -c "import sys,time\nfor i in range(1, 301):\n    sys.stdout.write('line %d\\n' % i); sys.stdout.flush(); time.sleep(0.001)"`,
        });
        await small.client.ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 5000 });
        const stream = await small.client.sse(`/processes/${proc.id}/logs/stream`, { 'last-event-id': '1' });
        await stream.untilEnd();
        assert.equal(stream.messages[0]!.event, 'truncated');
        assert.ok(JSON.parse(stream.messages[0]!.data).dropped > 0);
        assert.ok(logText(stream.messages).endsWith('line 300\n'));
        assert.equal(stream.messages[stream.messages.length - 1]!.event, 'exit');
        const logs = await small.client.ok('GET', `/processes/${proc.id}/logs`);
        assert.equal(logs.truncated, true);
        assert.match(logs.stdout, /^\[… \d+ bytes of earlier output truncated …\]\n/);
      } finally {
        await small.stop();
      }
    });

    // How fast is judged by `npm run bench` (log-line latency); here, that lines arrive live.
    it('delivers each line as it is printed, not all at the end', async () => {
      const proc = await api().ok('POST', '/processes', {
        command: `node -e "let n = 0; const t = setInterval(() => { console.log(Date.now()); if (++n === 60) clearInterval(t); }, 15)"`,
      });
      const stream = await api().sse(`/processes/${proc.id}/logs/stream`);
      await stream.untilEnd();
      const delays = stream.messages
        .filter((m) => m.event === 'log')
        .flatMap((m) => {
          const printed = JSON.parse(m.data).data.trim().split('\n').map(Number);
          return printed.map((t: number) => m.at - t);
        })
        .sort((a: number, b: number) => a - b);
      assert.equal(delays.length, 60);
      const messages = stream.messages.filter((m) => m.event === 'log').length;
      assert.ok(messages > 10, `the lines came in ${messages} separate messages, while the process ran`);
    });

    it('releases its listeners when the client goes away', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'while true; do echo tick; sleep 0.05; done' });
      const stream = await api().sse(`/processes/${proc.id}/logs/stream`);
      await stream.waitFor(2);
      stream.close();
      await stream.closed();
      // The process keeps printing; a leaked listener would throw writing to a closed response and
      // show up in the agent's output.
      await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'tick', timeout: 2000 });
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
      assert.doesNotMatch(agent.output(), /unexpected error|uncaught/);
    });
  });

  describe('bounded memory', () => {
    it('keeps the agent under 150 MB RSS while a process prints 200 MB, even with a client that does not read', async function () {
      this.timeout(60000);
      const big = await startAgent();
      try {
        const proc = await big.client.ok('POST', '/processes', { command: `head -c 200000000 /dev/zero | tr '\\0' 'x'; echo; echo done` });
        // A stream client that never reads: the agent must not buffer the output for it.
        const stalled = http.get(`${big.client.base}/processes/${proc.id}/logs/stream`, (res) => res.pause());
        stalled.on('error', () => {});
        const exit = await big.client.ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 50000 });
        assert.equal(exit.exitCode, 0);
        const peak = rssPeakMb(big.pid);
        stalled.destroy();
        assert.ok(peak < 150, `agent peak RSS ${peak.toFixed(1)} MB`);
        const logs = await big.client.ok('GET', `/processes/${proc.id}/logs`);
        assert.equal(logs.truncated, true);
        assert.match(logs.stdout, /^\[… \d+ bytes of earlier output truncated …\]\n/);
        assert.ok(logs.stdout.endsWith('done\n'));
        assert.ok(logs.stdout.length < 3 * 1024 * 1024, `kept ${logs.stdout.length} bytes`);
      } finally {
        await big.stop();
      }
    });
  });

  describe('POST /processes/:id/wait-for-log', () => {
    it('finds "Server ready" from a Node server, also when it was printed before the wait', async () => {
      const proc = await api().ok('POST', '/processes', {
        command: `node -e "require('http').createServer((q, s) => s.end('hi')).listen(0, '127.0.0.1', function () { console.log('Server ready on ' + this.address().port) })"`,
      });
      const found = await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'Server ready', timeout: 10000 });
      assert.match(found.line, /^Server ready on \d+$/);
      assert.equal(found.match, undefined);
      const again = await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'ready on (\\d+)', regex: true, timeout: 2000 });
      assert.equal(again.line, found.line);
      assert.equal(again.match[1], found.line.split(' ').pop());
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });

    it('looks at stderr too', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'echo "warning: disk" >&2; sleep 5' });
      const found = await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'warning', timeout: 5000 });
      assert.equal(found.line, 'warning: disk');
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });

    it('answers 409 PROCESS_EXITED when the process ends without a match, and 408 on timeout', async () => {
      const quick = await api().ok('POST', '/processes', { command: 'echo nothing here; exit 1' });
      const exited = await api().call('POST', `/processes/${quick.id}/wait-for-log`, { pattern: 'never', timeout: 5000 });
      assert.equal(exited.status, 409);
      assert.equal(exited.body.code, 'PROCESS_EXITED');
      assert.match(exited.body.error, /Process exited with code 1/);
      const slow = await api().ok('POST', '/processes', { command: 'sleep 30' });
      const timedOut = await api().call('POST', `/processes/${slow.id}/wait-for-log`, { pattern: 'never', timeout: 200 });
      assert.equal(timedOut.status, 408);
      assert.equal(timedOut.body.code, 'TIMEOUT');
      assert.match(timedOut.body.error, /^Process did not become ready within 200ms\. Waiting for: log pattern "never"/);
      await api().ok('DELETE', `/processes/${slow.id}?signal=SIGKILL`);
    });

    it('a pattern that backtracks without end does not stall the agent, and the wait ends at its timeout', async () => {
      const proc = await api().ok('POST', '/processes', { command: `echo ${'a'.repeat(30)}!; sleep 30` });
      await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'a!', timeout: 5000 });
      const order: string[] = [];
      const waiting = api()
        .call('POST', `/processes/${proc.id}/wait-for-log`, { pattern: '^(a+)+$', regex: true, timeout: 3000 })
        .then((r) => {
          order.push('wait');
          return r;
        });
      // The agent keeps answering while the pattern runs: before the wait's deadline.
      for (let i = 0; i < 5; i++) assert.equal((await api().call('GET', '/health')).status, 200);
      order.push('health');
      const r = await waiting;
      assert.deepEqual(order, ['health', 'wait']);
      assert.equal(r.status, 408);
      assert.match(r.body.error, /did not become ready within 3000ms/);
      // Ordinary patterns keep RegExp semantics, from the same thread.
      const ok = await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: '^(a+)!$', regex: true, timeout: 3000 });
      assert.deepEqual(ok.match, [`${'a'.repeat(30)}!`, 'a'.repeat(30)]);
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });

    it('a regular expression still matches output printed just before the process ended', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'echo "port=4242"' });
      await api().ok('POST', `/processes/${proc.id}/wait-for-exit`, { timeout: 5000 });
      const found = await api().ok('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'port=(\\d+)', regex: true, timeout: 3000 });
      assert.equal(found.match[1], '4242');
      const missing = await api().call('POST', `/processes/${proc.id}/wait-for-log`, { pattern: 'nope', regex: true, timeout: 3000 });
      assert.equal(missing.status, 409);
    });

    it('refuses an invalid regular expression with 400 INVALID_PATTERN', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'true' });
      const r = await api().call('POST', `/processes/${proc.id}/wait-for-log`, { pattern: '(', regex: true });
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'INVALID_PATTERN');
    });
  });
});
