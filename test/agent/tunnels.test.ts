import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, processGone, startAgent, tempDir, waitUntil, type AgentUnderTest, type SseClient } from '../helpers/agent-process';

/** The stand-in cloudflared (no internet here): see the comment at its top for its knobs. */
const FAKE_CLOUDFLARED = path.resolve(__dirname, '..', 'fixtures', 'fake-cloudflared', 'cloudflared');

/** What the fake writes to FAKE_CLOUDFLARED_STATE_DIR/{pid}.json. */
interface FakeState {
  pid: number;
  originPort: number;
  url: string;
  hostname: string;
  metrics: string;
  localServe: string;
  connected: boolean;
}

interface TunnelAgent {
  agent: AgentUnderTest;
  stateDir: string;
  /** Every fake cloudflared started for `port`, oldest first. */
  fakes(port: number): FakeState[];
  stop(): Promise<void>;
}

async function startTunnelAgent(env: Record<string, string> = {}): Promise<TunnelAgent> {
  const stateDir = tempDir('fake-cloudflared');
  const agent = await startAgent({ SANDBOX_CLOUDFLARED: FAKE_CLOUDFLARED, FAKE_CLOUDFLARED_STATE_DIR: stateDir, ...env });
  const fakes = (port: number): FakeState[] =>
    fs
      .readdirSync(stateDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => {
        try {
          return JSON.parse(fs.readFileSync(path.join(stateDir, f), 'utf8')) as FakeState;
        } catch {
          return null; // being written
        }
      })
      .filter((s): s is FakeState => s !== null && s.originPort === port)
      .sort((a, b) => a.pid - b.pid);
  return {
    agent,
    stateDir,
    fakes,
    stop: async () => {
      const pids = fs
        .readdirSync(stateDir)
        .map((f) => Number(f.split('.')[0]))
        .filter((n) => n > 1);
      await agent.stop();
      // Nothing the agent started may outlive it.
      for (const pid of pids) if (!processGone(pid)) process.kill(pid, 'SIGKILL');
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The agent events of one type seen so far on an /events stream. */
function eventsOf(sse: SseClient, type: string): any[] {
  return sse.messages
    .filter((m) => m.event === 'agent')
    .map((m) => JSON.parse(m.data))
    .filter((e) => e.type === type);
}

async function readyStatus(metrics: string): Promise<number> {
  return (await fetch(`http://${metrics}/ready`)).status;
}

describe('agent › tunnels (real agent, fake cloudflared)', function () {
  this.timeout(30000);

  describe('with a working cloudflared', () => {
    const DELAY_MS = 800;
    let t: TunnelAgent;
    let sse: SseClient;
    let webPort: number;
    const api = () => t.agent.client;

    before(async () => {
      t = await startTunnelAgent({ FAKE_CLOUDFLARED_DELAY_MS: String(DELAY_MS) });
      sse = await api().sse('/events');
      // A real service in the sandbox, serving the workspace.
      webPort = await freePort();
      fs.mkdirSync(t.agent.workspace, { recursive: true });
      await api().ok('PUT', '/files?path=/workspace/hello.txt', 'hello through the tunnel\n');
      const web = await api().ok('POST', '/processes', { command: `exec python3 -m http.server ${webPort} --bind 0.0.0.0`, processId: 'web' });
      await api().ok('POST', `/processes/${web.id}/wait-for-port`, { port: webPort, timeout: 10000 });
    });
    after(async () => {
      sse?.close();
      await t?.stop();
    });

    it('starts cloudflared and answers only once its /ready is 200, with the URL from its output', async () => {
      const started = Date.now();
      const put = api().call('PUT', `/tunnels/${webPort}`);
      const fake = await waitUntil(() => t.fakes(webPort)[0]?.metrics && t.fakes(webPort)[0], 'fake cloudflared started');
      // Before the edge connection is registered, /ready says 503 and the PUT is still waiting.
      assert.equal(await readyStatus(fake.metrics), 503);
      const r = await put;
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(Date.now() - started >= DELAY_MS - 50, `answered after ${Date.now() - started} ms`);
      assert.equal(await readyStatus(fake.metrics), 200);

      const info = r.body;
      assert.deepEqual(Object.keys(info).sort(), ['createdAt', 'hostname', 'id', 'port', 'url']);
      assert.match(info.id, /^quick-[0-9a-z]{20}$/);
      assert.equal(info.port, webPort);
      assert.match(info.url, /^https:\/\/[a-z]+(-[a-z]+)+\.trycloudflare\.com$/);
      assert.equal(info.url, fake.url);
      assert.equal(info.hostname, new URL(info.url).hostname);
      assert.ok(Math.abs(Date.parse(info.createdAt) - Date.now()) < 10000);
      assert.equal(new Date(info.createdAt).toISOString(), info.createdAt);

      // The event stream says so.
      await waitUntil(() => eventsOf(sse, 'tunnel-up').find((e) => e.tunnel.port === webPort), 'tunnel-up event');
      assert.deepEqual(eventsOf(sse, 'tunnel-up').find((e) => e.tunnel.port === webPort).tunnel, info);
    });

    it('carries traffic through the tunnel to the service in the sandbox', async () => {
      const [fake] = t.fakes(webPort);
      const res = await fetch(`http://${fake!.localServe}/hello.txt`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'hello through the tunnel\n');
    });

    it("does not report cloudflared's own ports as detected ports of the sandbox", async () => {
      const [fake] = t.fakes(webPort);
      const detected: number[] = (await api().ok('GET', '/ports/detected')).ports.map((p: { port: number }) => p.port);
      assert.ok(detected.includes(webPort), JSON.stringify(detected));
      for (const addr of [fake!.metrics, fake!.localServe]) assert.ok(!detected.includes(Number(addr.split(':')[1])), addr);
    });

    it('is idempotent: the same record again, and concurrent starts share one cloudflared', async () => {
      const first = await api().ok('PUT', `/tunnels/${webPort}`);
      assert.deepEqual(await api().ok('PUT', `/tunnels/${webPort}`), first);
      assert.equal(t.fakes(webPort).length, 1);

      const other = await freePort();
      const all = await Promise.all([1, 2, 3].map(() => api().ok('PUT', `/tunnels/${other}`)));
      assert.deepEqual(all[1], all[0]);
      assert.deepEqual(all[2], all[0]);
      assert.equal(t.fakes(other).length, 1, 'one cloudflared for one port');
      assert.notEqual(all[0].id, first.id);
    });

    it('lists the tunnels sorted by port', async () => {
      const extra = await freePort();
      await api().ok('PUT', `/tunnels/${extra}`);
      const { tunnels } = await api().ok('GET', '/tunnels');
      const ports = tunnels.map((x: { port: number }) => x.port);
      assert.ok(ports.includes(webPort) && ports.includes(extra));
      assert.deepEqual(
        ports,
        [...ports].sort((a: number, b: number) => a - b),
      );
      for (const x of tunnels) assert.match(x.id, /^quick-[0-9a-z]{20}$/);
    });

    it('destroys a tunnel: cloudflared gone, a tunnel-down event, idempotent', async () => {
      const port = await freePort();
      const info = await api().ok('PUT', `/tunnels/${port}`);
      const [fake] = t.fakes(port);
      assert.ok(fs.readFileSync(t.agent.pgidFile, 'utf8').split('\n').includes(String(fake!.pid)), 'cloudflared is in the pgid file');

      const r = await api().call('DELETE', `/tunnels/${port}`);
      assert.equal(r.status, 204);
      assert.ok(processGone(fake!.pid), 'cloudflared has exited when DELETE answers');
      const listed = (await api().ok('GET', '/tunnels')).tunnels.map((x: { id: string }) => x.id);
      assert.ok(!listed.includes(info.id));
      await waitUntil(() => eventsOf(sse, 'tunnel-down').find((e) => e.port === port), 'tunnel-down event');
      assert.deepEqual(
        eventsOf(sse, 'tunnel-down').filter((e) => e.port === port),
        [{ type: 'tunnel-down', port, reason: 'destroyed' }],
      );
      await waitUntil(() => !fs.readFileSync(t.agent.pgidFile, 'utf8').split('\n').includes(String(fake!.pid)), 'pgid file updated');

      assert.equal((await api().call('DELETE', `/tunnels/${port}`)).status, 204);
      assert.equal((await api().call('DELETE', `/tunnels/${await freePort()}`)).status, 204);
      // The next PUT makes a new tunnel.
      const again = await api().ok('PUT', `/tunnels/${port}`);
      assert.notEqual(again.id, info.id);
      assert.equal(t.fakes(port).length, 2);
      await api().ok('DELETE', `/tunnels/${port}`);
    });

    it('destroying a tunnel that is still starting fails that start and ends its cloudflared', async () => {
      const port = await freePort();
      const put = api().call('PUT', `/tunnels/${port}`);
      const fake = await waitUntil(() => t.fakes(port)[0], 'fake cloudflared started');
      assert.equal((await api().call('DELETE', `/tunnels/${port}`)).status, 204);
      const r = await put;
      assert.equal(r.status, 422);
      assert.equal(r.body.code, 'COMMAND_FAILED');
      assert.match(r.body.error, new RegExp(`tunnel for port ${port} was destroyed before it was ready`));
      assert.ok(processGone(fake.pid));
      assert.ok(!eventsOf(sse, 'tunnel-up').some((e) => e.tunnel.port === port));
    });

    it('refuses bad ports with 400 and the exposePort messages', async () => {
      const cases: Array<[string, string, RegExp]> = [
        ['80', 'INVALID_PORT', /^Invalid port number: 80\. Must be 1024-65535$/],
        ['70000', 'INVALID_PORT', /Invalid port number: 70000/],
        ['abc', 'INVALID_PORT', /Invalid port number: abc/],
        ['3000', 'RESERVED_PORT', /Port 3000 is reserved/],
      ];
      for (const [port, code, message] of cases) {
        for (const method of ['PUT', 'DELETE']) {
          const r = await api().call(method, `/tunnels/${port}`);
          assert.equal(r.status, 400, `${method} ${port}`);
          assert.equal(r.body.code, code);
          assert.match(r.body.error, message);
        }
      }
      assert.equal(t.fakes(80).length + t.fakes(3000).length, 0);
    });
  });

  describe('a cloudflared that dies by itself', () => {
    let t: TunnelAgent;
    after(async () => {
      await t?.stop();
    });

    it('sends tunnel-down, forgets the record, and the next PUT makes a new tunnel', async () => {
      t = await startTunnelAgent({ FAKE_CLOUDFLARED_DELAY_MS: '50', FAKE_CLOUDFLARED_DIE_AFTER_MS: '1500' });
      const api = t.agent.client;
      const sse = await api.sse('/events');
      try {
        const port = await freePort();
        const first = await api.ok('PUT', `/tunnels/${port}`);
        const down = await waitUntil(() => eventsOf(sse, 'tunnel-down').find((e) => e.port === port), 'tunnel-down event');
        assert.match(down.reason, /^cloudflared exited \(code 1\)$/);
        assert.deepEqual((await api.ok('GET', '/tunnels')).tunnels, []);
        assert.ok(processGone(t.fakes(port)[0]!.pid));

        const second = await api.ok('PUT', `/tunnels/${port}`);
        assert.notEqual(second.id, first.id);
        assert.notEqual(second.url, first.url);
        assert.equal(t.fakes(port).length, 2);
        assert.equal(second.url, t.fakes(port)[1]!.url);
        await api.ok('DELETE', `/tunnels/${port}`);
      } finally {
        sse.close();
      }
    });
  });

  describe('when cloudflared cannot bring a tunnel up', () => {
    const started: TunnelAgent[] = [];
    after(async () => {
      await Promise.all(started.map((t) => t.stop()));
    });
    const agentWith = async (env: Record<string, string>) => {
      const t = await startTunnelAgent(env);
      started.push(t);
      return t;
    };

    it('a cloudflared that fails at start: a clear error with its last log lines, nothing kept', async () => {
      const t = await agentWith({ FAKE_CLOUDFLARED_FAIL: '1' });
      const port = await freePort();
      const r = await t.agent.client.call('PUT', `/tunnels/${port}`);
      assert.equal(r.status, 422);
      assert.equal(r.body.code, 'COMMAND_FAILED');
      assert.match(r.body.error, new RegExp(`^cloudflared exited \\(code 1\\) before the tunnel for port ${port} was ready\\. Last cloudflared log lines:\n`));
      assert.match(r.body.error, /INFO Requesting new quick Tunnel on trycloudflare.com.../);
      assert.match(r.body.error, /ERROR failed to request quick Tunnel error=".*api\.trycloudflare\.com.*no such host"/);
      assert.deepEqual((await t.agent.client.ok('GET', '/tunnels')).tunnels, []);
    });

    it('times out with TIMEOUT, names what it waited for, shows the log and ends cloudflared', async () => {
      const t = await agentWith({ FAKE_CLOUDFLARED_DELAY_MS: '60000', SANDBOX_TUNNEL_TIMEOUT_MS: '1000' });
      const port = await freePort();
      const r = await t.agent.client.call('PUT', `/tunnels/${port}`);
      assert.equal(r.status, 408);
      assert.equal(r.body.code, 'TIMEOUT');
      assert.match(
        r.body.error,
        new RegExp(
          `^Tunnel for port ${port} was not ready within 1000ms \\(waiting for readiness of its metrics server \\(http://127\\.0\\.0\\.1:\\d+/ready\\)\\)\\. Last cloudflared log lines:\n`,
        ),
      );
      assert.match(r.body.error, /Your quick Tunnel has been created!/);
      await waitUntil(() => processGone(t.fakes(port)[0]!.pid), 'cloudflared ended after the timeout');
      assert.deepEqual((await t.agent.client.ok('GET', '/tunnels')).tunnels, []);
    });

    it('a missing binary (explicit path, or none on PATH): 501 CLOUDFLARED_NOT_FOUND with an install hint', async () => {
      const missing = path.join(tempDir('no-cloudflared'), 'cloudflared');
      const explicit = await agentWith({ SANDBOX_CLOUDFLARED: missing });
      const onPath = await agentWith({ SANDBOX_CLOUDFLARED: '', PATH: path.dirname(missing) });
      for (const [t, shown] of [
        [explicit, missing],
        [onPath, 'cloudflared'],
      ] as const) {
        const r = await t.agent.client.call('PUT', `/tunnels/${await freePort()}`);
        assert.equal(r.status, 501);
        assert.equal(r.body.code, 'CLOUDFLARED_NOT_FOUND');
        assert.match(r.body.error, /^cloudflared is not installed in this sandbox/);
        assert.ok(r.body.error.includes(`(${shown} not found)`), r.body.error);
        assert.match(r.body.error, /https:\/\/developers\.cloudflare\.com\/cloudflare-one\/connections\/connect-networks\/downloads\//);
        assert.match(r.body.error, /SANDBOX_CLOUDFLARED/);
        assert.deepEqual((await t.agent.client.ok('GET', '/tunnels')).tunnels, []);
      }
      fs.rmSync(path.dirname(missing), { recursive: true, force: true });
    });
  });

  describe('when the agent stops', () => {
    it('its cloudflared processes die with it (SIGTERM)', async () => {
      const t = await startTunnelAgent({ FAKE_CLOUDFLARED_DELAY_MS: '50' });
      try {
        const ports = [await freePort(), await freePort()];
        for (const port of ports) await t.agent.client.ok('PUT', `/tunnels/${port}`);
        const pids = ports.map((port) => t.fakes(port)[0]!.pid);
        const pgids = fs.readFileSync(t.agent.pgidFile, 'utf8').split('\n');
        for (const pid of pids) assert.ok(pgids.includes(String(pid)), `cloudflared ${pid} is in the pgid file`);
        await t.agent.stop('SIGTERM');
        for (const pid of pids) await waitUntil(() => processGone(pid), `cloudflared ${pid} gone`);
      } finally {
        await t.stop();
      }
    });
  });
});
