import assert from 'node:assert/strict';
import { Api } from '../helpers/api';
import { freePort } from '../helpers/net';
import { nextMessage, previewRequest, previewSocket } from '../helpers/preview-client';
import { installWs } from '../helpers/fixtures';
import { sharedStack } from '../helpers/stack';

/** The source documents' examples, end to end against the local stack (through the control API). */
describe('the documents’ examples, end to end', function () {
  this.timeout(90000);
  let api: Api;
  const box = `ex-${Date.now().toString(36)}`;
  const base = `/sandboxes/${box}`;

  before(async function () {
    this.timeout(120000);
    const stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    await api.ok('POST', '/sandboxes', { id: box });
  });

  it('python3 -m http.server, waitForPort, exposePort, fetch', async () => {
    const port = await freePort();
    await api.ok('PUT', `${base}/files?path=/workspace/hello.txt`, 'hello from python');
    const server = await api.ok('POST', `${base}/processes`, { command: `python3 -m http.server ${port}` });
    await api.ok('POST', `${base}/processes/${server.id}/wait-for-port`, { port });
    const exposed = await api.ok('POST', `${base}/ports`, { port, name: 'web-server' });
    assert.equal(exposed.name, 'web-server');
    const r = await previewRequest(`${exposed.url}hello.txt`);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'hello from python');
  });

  it("an API server awaited with waitForLog('Server ready') and called through its URL", async () => {
    const port = await freePort();
    await api.ok(
      'PUT',
      `${base}/files?path=/workspace/server.js`,
      `
const http = require('http');
http.createServer((req, res) => {
  if (req.url === '/api/hello') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ message: 'Hello from sandbox!' }));
  }
  res.writeHead(404); res.end();
}).listen(${port}, '0.0.0.0', () => console.log('Server ready'));
`,
    );
    const server = await api.ok('POST', `${base}/processes`, { command: 'node server.js' });
    await api.ok('POST', `${base}/processes/${server.id}/wait-for-log`, { pattern: 'Server ready' });
    const exposed = await api.ok('POST', `${base}/ports`, { port, name: 'api' });
    const r = await previewRequest(`${exposed.url}api/hello`);
    assert.deepEqual(r.json(), { message: 'Hello from sandbox!' });
  });

  it('a WebSocket echo server through ws:// of the preview URL', async () => {
    const port = await freePort();
    await api.ok(
      'PUT',
      `${base}/files?path=/workspace/ws-server.js`,
      `
const WebSocket = require('ws');
const wss = new WebSocket.Server({ port: ${port} });
wss.on('connection', (ws) => ws.on('message', (message) => ws.send(\`Echo: \${message}\`)));
console.log('WebSocket server listening on port ${port}');
`,
    );
    await installWs(api, box);
    const server = await api.ok('POST', `${base}/processes`, { command: 'node ws-server.js' });
    await api.ok('POST', `${base}/processes/${server.id}/wait-for-log`, { pattern: 'WebSocket server listening' });
    const exposed = await api.ok('POST', `${base}/ports`, { port, name: 'websocket' });
    const ws = previewSocket(exposed.url.replace('http://', 'ws://'));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send('hello');
    assert.equal((await nextMessage(ws)).data.toString(), 'Echo: hello');
    ws.close();
  });

  it('two services on two ports, each with its own name and URL', async () => {
    const [fp, bp] = [await freePort(), await freePort()];
    for (const [dir, port, text] of [
      ['frontend', fp, 'front'],
      ['backend', bp, 'back'],
    ] as const) {
      await api.ok('PUT', `${base}/files?path=/workspace/${dir}/index.html`, text);
      await api.ok('POST', `${base}/processes`, { command: `python3 -m http.server ${port}`, cwd: `/workspace/${dir}` });
    }
    const { processes } = await api.ok('GET', `${base}/processes`);
    for (const port of [fp, bp]) {
      const p = processes.find((x: any) => x.command.endsWith(`${port}`));
      await api.ok('POST', `${base}/processes/${p.id}/wait-for-port`, { port });
    }
    const [front, back] = await Promise.all([api.ok('POST', `${base}/ports`, { port: fp, name: 'frontend' }), api.ok('POST', `${base}/ports`, { port: bp, name: 'backend' })]);
    assert.equal((await previewRequest(front.url)).text, 'front');
    assert.equal((await previewRequest(back.url)).text, 'back');
    const { ports } = await api.ok('GET', `${base}/ports`);
    assert.deepEqual(
      ports
        .filter((p: any) => [fp, bp].includes(p.port))
        .map((p: any) => p.name)
        .sort(),
      ['backend', 'frontend'],
    );
  });

  it('a static site cloned with checkout and served from its folder', async () => {
    // The repository lives in the sandbox's own /tmp (it sees nothing of this machine's).
    const repo = '/tmp/repos/static-site';
    const make = await api.ok('POST', `${base}/exec`, {
      command: `mkdir -p ${repo} && cd ${repo} && echo '<h1>Static site</h1>' > index.html && git init -q -b main && git add . && git commit -q -m site`,
      env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    });
    assert.equal(make.exitCode, 0, make.stderr);
    const out = await api.ok('POST', `${base}/checkout`, { repoUrl: `file://${repo}` });
    assert.equal(out.path, '/workspace/static-site');
    const port = await freePort();
    const server = await api.ok('POST', `${base}/processes`, { command: `python3 -m http.server ${port}`, cwd: '/workspace/static-site' });
    await api.ok('POST', `${base}/processes/${server.id}/wait-for-port`, { port });
    const exposed = await api.ok('POST', `${base}/ports`, { port, name: 'static-site' });
    const r = await previewRequest(exposed.url);
    assert.equal(r.text, '<h1>Static site</h1>\n');
  });
});
