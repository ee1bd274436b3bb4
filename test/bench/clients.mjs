// Load clients for the preview-proxy benchmark. Every target is reached on 127.0.0.1 with an
// explicit Host header (Node does not resolve *.localhost, and fetch drops a Host header).
import http from 'node:http';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';

/**
 * A target: { name, port (on 127.0.0.1), host (the Host header), path }.
 * Sequential GETs on one kept-alive connection; answers the latency of each in ms.
 */
export async function sequentialGets(target, count) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const { status, body } = await get(target, agent);
      times.push(performance.now() - t0);
      if (status !== 200) throw new Error(`${target.name}: GET ${target.path} answered ${status}: ${body.slice(0, 500)}`);
    }
  } finally {
    agent.destroy();
  }
  return times;
}

function get(target, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: target.port, path: target.path, agent, headers: { host: target.host } }, (res) => {
      let body = '';
      // Only an error's body is kept (for the message); a 200's is read and dropped.
      res.on('data', (c) => {
        if (res.statusCode !== 200) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** `wrk -t2 -c{connections} -d{seconds}s`: answers { rps, non2xx, socketErrors }. */
export function wrk(target, { bin = 'wrk', connections = 32, threads = 2, seconds = 5 } = {}) {
  return new Promise((resolve, reject) => {
    const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '-H', `Host: ${target.host}`, `http://127.0.0.1:${target.port}${target.path}`];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('error', reject);
    child.on('exit', (code) => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`wrk against ${target.name} failed (${code}):\n${out}`));
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      resolve({ rps: Number(m[1]), non2xx, socketErrors });
    });
  });
}

/** Opens a WebSocket to the echo service through `target` and waits for its hello frame. */
export async function openEchoSocket(target) {
  const ws = new WebSocket(`ws://127.0.0.1:${target.port}${target.path}`, { headers: { host: target.host }, perMessageDeflate: false });
  const queue = [];
  const waiters = [];
  ws.on('message', (data) => {
    const w = waiters.shift();
    if (w) w.resolve(data);
    else queue.push(data);
  });
  const fail = (err) => {
    for (const w of waiters.splice(0)) w.reject(err);
  };
  ws.on('error', fail);
  ws.on('close', () => fail(new Error(`${target.name}: WebSocket closed`)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${target.name}: WebSocket upgrade answered ${res.statusCode}`)));
  });
  const next = () => (queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => waiters.push({ resolve, reject })));
  const hello = JSON.parse((await next()).toString());
  if (!hello.hello) throw new Error(`${target.name}: unexpected first frame ${JSON.stringify(hello)}`);
  return {
    /** Sends `count` messages one after the other; answers each echo round trip in ms. */
    async echo(count) {
      const times = [];
      for (let i = 0; i < count; i++) {
        const msg = `ping ${i} ${'x'.repeat(32)}`;
        const t0 = performance.now();
        ws.send(msg);
        const got = (await next()).toString();
        times.push(performance.now() - t0);
        if (got !== msg) throw new Error(`${target.name}: echo mismatch: ${got}`);
      }
      return times;
    },
    close: () => ws.terminate(),
  };
}
