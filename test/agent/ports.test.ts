import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, useAgent, waitUntil } from '../helpers/agent-process';

const pyServer = (port: number, bind = '0.0.0.0') => `exec python3 -m http.server ${port} --bind ${bind}`;

describe('agent › ports (real agent process)', function () {
  this.timeout(30000);
  const agent = useAgent();
  const api = () => agent().client;

  describe('POST /processes/:id/wait-for-port', () => {
    it('waits over HTTP for a path and status, and over TCP', async () => {
      const port = await freePort();
      const proc = await api().ok('POST', '/processes', { command: `sleep 0.3; ${pyServer(port)}` });
      assert.deepEqual(await api().ok('POST', `/processes/${proc.id}/wait-for-port`, { port, interval: 100, timeout: 10000 }), { ready: true });
      // http.server answers 404 for a missing path: ready only when 404 is accepted.
      const notFound = await api().call('POST', `/processes/${proc.id}/wait-for-port`, { port, path: '/missing', timeout: 400 });
      assert.equal(notFound.status, 408);
      await api().ok('POST', `/processes/${proc.id}/wait-for-port`, { port, path: '/missing', status: 404, timeout: 2000 });
      await api().ok('POST', `/processes/${proc.id}/wait-for-port`, { port, mode: 'tcp', timeout: 2000 });
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });

    it('times out with the SPEC message', async () => {
      const port = await freePort();
      const proc = await api().ok('POST', '/processes', { command: 'sleep 30' });
      const http = await api().call('POST', `/processes/${proc.id}/wait-for-port`, { port, path: '/health', timeout: 600, interval: 100 });
      assert.equal(http.status, 408);
      assert.equal(http.body.code, 'TIMEOUT');
      assert.equal(http.body.error, `Process did not become ready within 600ms. Waiting for: port ${port} (HTTP /health)`);
      const tcp = await api().call('POST', `/processes/${proc.id}/wait-for-port`, { port, mode: 'tcp', timeout: 300 });
      assert.equal(tcp.body.error, `Process did not become ready within 300ms. Waiting for: port ${port} (TCP)`);
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });

    it('fails with 409 as soon as the process exits before it is ready', async () => {
      const port = await freePort();
      const proc = await api().ok('POST', '/processes', { command: 'sleep 0.2; exit 4' });
      const started = Date.now();
      const r = await api().call('POST', `/processes/${proc.id}/wait-for-port`, { port, timeout: 20000 });
      assert.ok(Date.now() - started < 5000);
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'PROCESS_EXITED');
      assert.equal(r.body.error, `Process exited with code 4 before becoming ready. Waiting for: port ${port} (HTTP /)`);
    });

    it('refuses bad ports and options with a 4xx naming the problem', async () => {
      const proc = await api().ok('POST', '/processes', { command: 'sleep 30' });
      const url = `/processes/${proc.id}/wait-for-port`;
      const cases: Array<[unknown, string, RegExp]> = [
        [{ port: 0 }, 'INVALID_PORT', /Invalid port number: 0/],
        [{ port: 70000 }, 'INVALID_PORT', /Invalid port number: 70000/],
        [{ port: 'abc' }, 'INVALID_PORT', /Invalid port number: abc/],
        [{ port: 8080, mode: 'udp' }, 'INVALID_REQUEST', /'mode'/],
        [{ port: 8080, timeout: 'soon' }, 'INVALID_REQUEST', /'timeout'/],
        [{ port: 8080, status: 'ok' }, 'INVALID_REQUEST', /'status'/],
        [{ port: 8080, path: 'no-slash' }, 'INVALID_REQUEST', /'path'/],
      ];
      for (const [body, code, message] of cases) {
        const r = await api().call('POST', url, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.code, code);
        assert.match(r.body.error, message);
      }
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });
  });

  describe('GET /ports/detected', () => {
    it('reports a port a started process listens on, with pid and process id, until it stops', async () => {
      const port = await freePort();
      const proc = await api().ok('POST', '/processes', { command: pyServer(port), processId: 'py-web' });
      const found = await waitUntil(async () => {
        const { ports } = await api().ok('GET', '/ports/detected');
        return ports.find((p: any) => p.port === port);
      }, 'the port is detected');
      assert.equal(found.pid, proc.pid);
      assert.equal(found.processId, 'py-web');
      assert.equal(found.address, '0.0.0.0');
      const { ports } = await api().ok('GET', '/ports/detected');
      assert.ok(!ports.some((p: any) => p.port === agent().port), "the agent's own port is not reported");

      await api().ok('DELETE', '/processes/py-web');
      await waitUntil(async () => {
        const after = await api().ok('GET', '/ports/detected');
        return !after.ports.some((p: any) => p.port === port);
      }, 'the port disappears');
    });

    it("ignores ports of processes it did not start (another program's)", async () => {
      const outsider = net.createServer().listen(0, '127.0.0.1');
      await new Promise((r) => outsider.once('listening', r));
      const port = (outsider.address() as net.AddressInfo).port;
      const proc = await api().ok('POST', '/processes', { command: 'sleep 30' });
      const { ports } = await api().ok('GET', '/ports/detected');
      assert.ok(!ports.some((p: any) => p.port === port));
      outsider.close();
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });

    it('counts a grandchild server started through a shell', async () => {
      const port = await freePort();
      const proc = await api().ok('POST', '/processes', { command: `echo starting; ${pyServer(port, '127.0.0.1').replace('exec ', '')}; echo never` });
      const found = await waitUntil(async () => {
        const { ports } = await api().ok('GET', '/ports/detected');
        return ports.find((p: any) => p.port === port);
      }, 'the grandchild port is detected');
      assert.notEqual(found.pid, proc.pid, 'the listener is the child, not the shell');
      assert.equal(found.processId, proc.id);
      assert.equal(found.address, '127.0.0.1');
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
    });
  });

  describe('GET /ports/:port/listener', () => {
    it('says who holds a port on the machine, on which address, and whether it is the sandbox', async () => {
      const server = net.createServer().listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const port = (server.address() as net.AddressInfo).port;
      // This agent runs as a plain process: a port of this test's is another program's.
      const other = await api().ok('GET', `/ports/${port}/listener`);
      assert.equal(other.listening, true);
      assert.equal(other.address, '127.0.0.1');
      assert.equal(other.owner, 'other');
      assert.match(other.holder, new RegExp(`^pid ${process.pid} \\(`));
      const ownPort = await freePort();
      const proc = await api().ok('POST', '/processes', { command: pyServer(ownPort) });
      await api().ok('POST', `/processes/${proc.id}/wait-for-port`, { port: ownPort, timeout: 15000 });
      assert.deepEqual(await api().ok('GET', `/ports/${ownPort}/listener`), { listening: true, address: '0.0.0.0', owner: 'sandbox' });
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
      server.close();
      await new Promise((r) => server.once('close', r));
      assert.deepEqual(await api().ok('GET', `/ports/${port}/listener`), { listening: false });
      const bad = await api().call('GET', '/ports/99999/listener');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'INVALID_PORT');
    });
  });

  describe('GET /events', () => {
    it('pushes process and port events with increasing ids, and resumes after the last id', async () => {
      const port = await freePort();
      const stream = await api().sse('/events');
      const proc = await api().ok('POST', '/processes', { command: pyServer(port) });
      const types = () => stream.messages.map((m) => JSON.parse(m.data));
      await waitUntil(() => types().some((e) => e.type === 'port-detected' && e.port.port === port), 'port-detected event');
      await api().ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
      await waitUntil(() => types().some((e) => e.type === 'port-closed' && e.port === port), 'port-closed event');
      await waitUntil(() => types().some((e) => e.type === 'process-exited' && e.process.id === proc.id), 'process-exited event');
      stream.close();
      assert.ok(stream.messages.every((m) => m.event === 'agent'));
      const ids = stream.messages.map((m) => Number(m.id));
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
      );

      const started = stream.messages.findIndex((m) => JSON.parse(m.data).type === 'process-started' && JSON.parse(m.data).process.id === proc.id);
      const expected = stream.messages.slice(started + 1).map((m) => m.id);
      const resumed = await api().sse('/events', { 'last-event-id': stream.messages[started]!.id! });
      await resumed.waitFor(expected.length);
      resumed.close();
      assert.deepEqual(
        resumed.messages.slice(0, expected.length).map((m) => m.id),
        expected,
      );
    });

    it('says reset to a client resuming from an id this agent never issued', async () => {
      const stream = await api().sse('/events', { 'last-event-id': '999999' });
      await stream.waitFor(1);
      stream.close();
      assert.equal(stream.messages[0]!.event, 'reset');
    });
  });
});
