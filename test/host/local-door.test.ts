/**
 * The locked doors of the local container host and its agents, against the real programs over
 * raw HTTP (so every header is the test's choice): only the Worker's requests get in, and a
 * refused request changes nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { agentClient, startHost, tempDir, type AgentState, type HostUnderTest } from '../helpers/agent-process';

interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

function raw(port: number, method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    // setHost: false lets a test send a foreign Host (or none) as a rebinding page would.
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text.startsWith('{') ? JSON.parse(text) : text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (const mode of ['namespaces', 'none'] as const)
  describe(`local doors, isolation ${mode} (real host and agent processes)`, function () {
    this.timeout(30000);
    let host: HostUnderTest;
    let agent: AgentState;
    let markers: string;

    before(async () => {
      markers = tempDir('door-markers');
      host = await startHost({ npm_package_name: 'leaky-host-variable', SANDBOX_ISOLATION: mode });
      agent = await host.client.ok('POST', '/containers/door-box/start', {});
    });

    /** The host's second door: the agent's own port (plain), or the host's relay to it (isolated). */
    const door = (state: AgentState) => state.relayPort ?? state.port;
    after(async () => {
      await host?.stop();
      fs.rmSync(markers, { recursive: true, force: true });
    });

    const listeners = () => [
      { name: 'container host', port: host.port, secret: host.secret, path: '/containers/evil-box/start', body: JSON.stringify({ env: { X: '1' } }), extra: {} },
      {
        name: mode === 'none' ? 'agent' : 'port relay',
        port: door(agent),
        secret: agent.secret,
        path: '/exec',
        body: JSON.stringify({ command: `touch ${path.join(markers, 'pwned')}` }),
        extra: {},
      },
    ];

    async function assertNothingChanged(): Promise<void> {
      assert.deepEqual(fs.readdirSync(markers), [], 'no command ran');
      assert.deepEqual(await host.client.ok('GET', '/containers/evil-box'), { running: false }, 'no agent was started');
    }

    const refusals: Array<[string, (l: ReturnType<typeof listeners>[number]) => Record<string, string>, RegExp]> = [
      ['no secret', () => ({ host: '127.0.0.1', 'content-type': 'application/json' }), /header is missing/],
      ['a wrong secret', () => ({ host: '127.0.0.1', 'content-type': 'application/json', [LOCAL_SECRET_HEADER]: 'guess' }), /does not match/],
      [
        'a foreign Host (DNS rebinding)',
        (l) => ({ host: 'rebind.example', 'content-type': 'application/json', [LOCAL_SECRET_HEADER]: l.secret }),
        /Host "rebind.example" is refused/,
      ],
      ['an Origin', (l) => ({ host: '127.0.0.1', origin: 'http://127.0.0.1:5173', 'content-type': 'application/json', [LOCAL_SECRET_HEADER]: l.secret }), /web pages/],
      ['Sec-Fetch-Site', (l) => ({ host: 'localhost', 'sec-fetch-site': 'cross-site', 'content-type': 'application/json', [LOCAL_SECRET_HEADER]: l.secret }), /web pages/],
      ['a text/plain body', (l) => ({ host: '127.0.0.1', 'content-type': 'text/plain', [LOCAL_SECRET_HEADER]: l.secret }), /must be application\/json/],
      ['a form body', (l) => ({ host: '127.0.0.1', 'content-type': 'application/x-www-form-urlencoded', [LOCAL_SECRET_HEADER]: l.secret }), /must be application\/json/],
    ];

    for (const [what, headers, message] of refusals) {
      it(`refuses a request with ${what} with 403 on both listeners, and nothing happens`, async () => {
        for (const l of listeners()) {
          const r = await raw(l.port, 'POST', l.path, { ...l.extra, ...headers(l) }, l.body);
          assert.equal(r.status, 403, `${l.name}: ${JSON.stringify(r.body)}`);
          assert.equal(r.body.code, 'LOCAL_ACCESS_DENIED', l.name);
          assert.match(r.body.error, message, l.name);
          assert.equal(r.headers['access-control-allow-origin'], undefined);
        }
        await assertNothingChanged();
      });
    }

    it('answers a CORS preflight with 403 and no CORS grant, and refuses paths it does not have the same way', async () => {
      for (const l of listeners()) {
        const pre = await raw(l.port, 'OPTIONS', l.path, { ...l.extra, host: '127.0.0.1', origin: 'https://evil.example', 'access-control-request-method': 'POST' });
        assert.equal(pre.status, 403, l.name);
        assert.equal(pre.headers['access-control-allow-origin'], undefined);
        const unknown = await raw(l.port, 'GET', '/no/such/path', { ...l.extra, host: '127.0.0.1' });
        assert.equal(unknown.status, 403, `${l.name}: a caller without the secret learns nothing about the routes`);
      }
    });

    it("the host's secret does not open an agent, and an agent's secret does not open the host or another agent", async () => {
      const other: AgentState = await host.client.ok('POST', '/containers/door-other/start', {});
      const asWorker = { host: '127.0.0.1', 'content-type': 'application/json' };
      const agentHealth = (state: AgentState, secret: string) => raw(door(state), 'GET', '/health', { ...asWorker, [LOCAL_SECRET_HEADER]: secret });
      assert.equal((await agentHealth(agent, host.secret)).status, 403);
      assert.equal((await raw(host.port, 'GET', '/health', { ...asWorker, [LOCAL_SECRET_HEADER]: agent.secret })).status, 403);
      assert.equal((await agentHealth(other, agent.secret)).status, 403);
      assert.notEqual(other.secret, agent.secret);
      assert.equal((await agentHealth(other, other.secret)).status, 200);
      await host.client.ok('DELETE', '/containers/door-other?purge=1');
    });

    if (mode === 'namespaces') {
      it("serves a sandbox's port only with that sandbox's secret, passing a browser's headers on as a preview would", async () => {
        const client = agentClient(agent);
        const proc = await client.ok('POST', '/processes', { command: 'python3 -m http.server 8000' });
        await client.ok('POST', `/processes/${proc.id}/wait-for-port`, { port: 8000, timeout: 15000 });
        const relay = (await host.client.ok('GET', '/containers/door-box/ports/8000/relay')).port;
        for (const secret of [undefined, 'guess', host.secret]) {
          const r = await raw(relay, 'GET', '/', { host: '127.0.0.1', ...(secret ? { [LOCAL_SECRET_HEADER]: secret } : {}) });
          assert.equal(r.status, 403, `secret ${secret}`);
          assert.equal(r.body.code, 'LOCAL_ACCESS_DENIED');
        }
        const rebound = await raw(relay, 'GET', '/', { host: 'evil.example', [LOCAL_SECRET_HEADER]: agent.secret });
        assert.equal(rebound.status, 403);
        const r = await raw(relay, 'GET', '/', {
          host: '127.0.0.1',
          [LOCAL_SECRET_HEADER]: agent.secret,
          origin: 'http://8000-door-box-tok.localhost:8787',
          'sec-fetch-site': 'same-origin',
        });
        assert.equal(r.status, 200);
        assert.match(String(r.body), /Directory listing/);
        const bad = await host.client.call('GET', '/containers/door-box/ports/99999/relay');
        assert.equal(bad.status, 400);
        await client.ok('DELETE', `/processes/${proc.id}?signal=SIGKILL`);
      });
    }

    it('lets the Worker in: loopback Host, the secret, a JSON body', async () => {
      for (const hostHeader of ['127.0.0.1', `localhost:${door(agent)}`]) {
        const headers = { host: hostHeader, 'content-type': 'application/json', [LOCAL_SECRET_HEADER]: agent.secret };
        const r = await raw(door(agent), 'POST', '/exec', headers, JSON.stringify({ command: 'echo in' }));
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.stdout, 'in\n');
      }
    });

    describe("the start API and the agents' environment", () => {
      it("gives the sandbox's env to its commands only: the agent itself never runs with it", async () => {
        const planted = path.join(markers, 'preload.js');
        fs.writeFileSync(planted, `require('fs').writeFileSync(${JSON.stringify(path.join(markers, 'preloaded'))}, 'x');\n`);
        const started = await host.client.ok('POST', '/containers/env-box/start', { env: { NODE_OPTIONS: `--require ${planted}`, GREETING: 'hi' } });
        try {
          assert.ok(!fs.existsSync(path.join(markers, 'preloaded')), 'NODE_OPTIONS did not reach the agent');
          const agentEnv = fs.readFileSync(`/proc/${started.pid}/environ`, 'utf8').split('\0');
          assert.ok(!agentEnv.some((v) => v.startsWith('NODE_OPTIONS=')), 'the agent process has no NODE_OPTIONS');
          assert.ok(!agentEnv.some((v) => v.startsWith('GREETING=')));
          const r = await agentClient(started).ok('POST', '/exec', { command: 'echo "$GREETING"' });
          assert.equal(r.stdout, 'hi\n', 'the commands see the sandbox env');
        } finally {
          await host.client.ok('DELETE', '/containers/env-box?purge=1');
          fs.rmSync(path.join(markers, 'preload.js'), { force: true });
          fs.rmSync(path.join(markers, 'preloaded'), { force: true });
        }
      });

      it("keeps the host's environment out of the sandbox: PATH, HOME and LANG only, and no secret", async () => {
        const r = await agentClient(agent).ok('POST', '/exec', { command: 'env' });
        const names = (r.stdout as string)
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('=')[0]);
        assert.ok(names.includes('PATH'));
        assert.ok(!names.includes('npm_package_name'), r.stdout);
        assert.ok(!names.some((n) => /SECRET/.test(n!)), r.stdout);
        assert.ok(!r.stdout.includes(agent.secret) && !r.stdout.includes(host.secret));
      });

      it('refuses env names that cannot be variables, with a 400 that says which', async () => {
        const r = await host.client.call('POST', '/containers/bad-env/start', { env: { 'A=B': 'x' } });
        assert.equal(r.status, 400);
        assert.match(r.body.error, /Field 'env.A=B' must be named like an environment variable/);
        assert.deepEqual(await host.client.ok('GET', '/containers/bad-env'), { running: false });
      });
    });
  });
