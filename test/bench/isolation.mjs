// `npm run bench:isolation` (part of `npm run bench`): what isolating local sandboxes costs, in one
// run, side by side. Two local stacks run at once, one isolated (bubblewrap + pasta, the default
// on Linux) and one with SANDBOX_ISOLATION=none; each serves the same echo service from a sandbox
// behind a preview URL, with the Worker on plain workerd as `npm start` runs it (BENCH_RUNTIME=wrangler:
// under wrangler dev, as `npm run dev` does). Measured alternately, so the machine's noise falls on
// both alike:
//   - sandbox cold start: POST /sandboxes → first exec answered (median; SPEC 5: ≤ 250 ms)
//   - preview latency: sequential GETs on one kept-alive connection (median; isolation adds ≤ 0.3 ms),
//     with a reference: the non-isolated service behind one bare Node pipe (tcp-pipe.js), which is
//     what any process between the Worker and a service costs on this machine
//   - requests/s at 32 connections through the preview URL (wrk, or a Node client without it;
//     median of rounds; isolated ≥ 0.85× not isolated)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { freePort, root, startStack } from '../../scripts/stack.mjs';
import { sequentialGets, wrk } from './clients.mjs';
import { apiCaller, fmt, median } from './lib.mjs';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 10);
const GETS = Number(process.env.BENCH_GETS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

const TCP_PIPE = path.join(root, 'test/fixtures/services/tcp-pipe.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ports-bench-isolation-'));
const log = fs.createWriteStream(path.join(work, 'stacks.log'));
const say = (msg) => process.stderr.write(`${msg}\n`);

function which(bin) {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** The echo service as one file (ws inlined), written into a sandbox as user code would be. */
async function echoBundle() {
  const outfile = path.join(work, 'echo-server.js');
  await build({
    entryPoints: [path.join(root, 'test/fixtures/services/echo-server.js')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
  });
  return fs.readFileSync(outfile);
}

/** Requests/s at 32 connections with Node's own client, for machines without wrk. */
async function nodeLoad(target, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const loop = async () => {
    while (performance.now() < until) {
      await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: target.port, path: target.path, agent, headers: { host: target.host } }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
      done++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, loop));
  agent.destroy();
  return { rps: done / seconds };
}

const stacks = [];
try {
  const wrkBin = which('wrk');
  const bundle = await echoBundle();
  say('starting two local stacks: isolated, and SANDBOX_ISOLATION=none');
  const modes = [
    { key: 'isolated', env: { SANDBOX_ISOLATION: 'namespaces' } },
    { key: 'plain', env: { SANDBOX_ISOLATION: 'none' } },
  ];
  const runtime = process.env.BENCH_RUNTIME ?? 'workerd';
  for (const m of modes) {
    m.stack = await startStack({ runtime, stateDir: path.join(work, m.key), log, env: m.env });
    stacks.push(m.stack);
    m.api = apiCaller(m.stack);
  }
  const runtimes = [{ name: runtime === 'workerd' ? 'plain workerd (npm start)' : 'wrangler dev (npm run dev)', of: (m) => ({ api: m.api, port: m.stack.port }) }];

  for (const rt of runtimes) {
    say(`${rt.name}: cold starts, then the echo service in a sandbox of each stack`);
    for (const m of modes) m[rt.name] = { cold: [], latency: [], rps: [], ...rt.of(m) };
    for (let i = 0; i < COLD_RUNS; i++) {
      for (const m of modes) {
        const r = m[rt.name];
        const id = `cold-${m.key}-${i}`;
        const t0 = performance.now();
        await r.api('POST', '/sandboxes', { id });
        await r.api('POST', `/sandboxes/${id}/exec`, { command: 'true' });
        r.cold.push(performance.now() - t0);
        await r.api('DELETE', `/sandboxes/${id}`);
      }
    }
    for (const m of modes) {
      const r = m[rt.name];
      const box = `echo-${m.key}`;
      await r.api('POST', '/sandboxes', { id: box });
      await r.api('PUT', `/sandboxes/${box}/files?path=${encodeURIComponent('/workspace/echo-server.js')}`, bundle);
      // An isolated sandbox has its own ports; the plain ones share this machine's.
      const port = m.key === 'isolated' ? 8080 : 20000 + Math.floor(Math.random() * 20000);
      const proc = await r.api('POST', `/sandboxes/${box}/processes`, { command: `node echo-server.js ${port} 0.0.0.0` });
      await r.api('POST', `/sandboxes/${box}/processes/${proc.id}/wait-for-log`, { pattern: 'echo server ready', timeout: 15000 });
      const url = new URL((await r.api('POST', `/sandboxes/${box}/ports`, { port, token: 'bench' })).url);
      r.target = { name: `preview (${m.key}, ${rt.name})`, port: r.port, host: url.host, path: '/' };
      if (m.key === 'plain') {
        // The reference for the relay: one bare pipe process in front of the same service.
        await r.api('PUT', `/sandboxes/${box}/files?path=${encodeURIComponent('/workspace/tcp-pipe.js')}`, fs.readFileSync(TCP_PIPE));
        // This sandbox shares the machine's ports: one nobody holds.
        const pipePort = await freePort();
        const pipe = await r.api('POST', `/sandboxes/${box}/processes`, { command: `node tcp-pipe.js ${pipePort} ${port}` });
        await r.api('POST', `/sandboxes/${box}/processes/${pipe.id}/wait-for-log`, { pattern: 'tcp pipe ready', timeout: 15000 });
        const hopUrl = new URL((await r.api('POST', `/sandboxes/${box}/ports`, { port: pipePort, token: 'bench-hop' })).url);
        r.hop = { name: `preview via one bare hop (${rt.name})`, port: r.port, host: hopUrl.host, path: '/' };
        r.hopLatency = [];
        await sequentialGets(r.hop, 4000);
      }
      // Warm the path: V8 optimizes the relays only after a few thousand requests.
      await sequentialGets(r.target, 4000);
    }
    for (let round = 0; round < ROUNDS; round++) {
      say(`${rt.name}: round ${round + 1} of ${ROUNDS}`);
      for (const m of modes) m[rt.name].latency.push(median(await sequentialGets(m[rt.name].target, GETS)));
      const plainRun = modes.find((m) => m.key === 'plain')[rt.name];
      plainRun.hopLatency.push(median(await sequentialGets(plainRun.hop, GETS)));
      for (const m of modes) {
        const r = m[rt.name];
        r.rps.push((wrkBin ? await wrk(r.target, { bin: wrkBin, seconds: SECONDS }) : await nodeLoad(r.target, SECONDS)).rps);
      }
    }
  }

  const [iso, plain] = modes;
  const row = (name, a, b) => console.log(name.padEnd(52), String(a).padStart(12), String(b).padStart(14));
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
  console.log(`\nIsolation cost — two local stacks in one run (${os.cpus().length} cores; load: ${wrkBin ? 'wrk' : 'Node client (install wrk for wrk)'})`);
  for (const rt of runtimes) {
    const a = iso[rt.name];
    const b = plain[rt.name];
    console.log(`\n${rt.name}`.padEnd(53), 'isolated'.padStart(12), 'not isolated'.padStart(14));
    row(`cold start, create → first exec (median of ${COLD_RUNS})`, fmt(median(a.cold)), fmt(median(b.cold)));
    row(`preview GET latency (median of ${ROUNDS} × ${GETS})`, fmt(median(a.latency)), fmt(median(b.latency)));
    row('  reference: not isolated + one bare Node pipe hop', '', fmt(median(b.hopLatency)));
    row(`preview req/s at 32 connections (median of ${ROUNDS})`, Math.round(median(a.rps)), Math.round(median(b.rps)));
    const added = median(a.latency) - median(b.latency);
    const ratio = median(a.rps) / median(b.rps);
    console.log(`${verdict(median(a.cold) <= 250)}  isolated cold start ${fmt(median(a.cold))} (target ≤ 250 ms)`);
    console.log(`${verdict(added <= 0.3)}  isolation adds ${added.toFixed(3)} ms to a preview GET (target ≤ 0.3 ms)`);
    // What one process between the Worker and a service costs here, for comparison with the line
    // above (the relay is such a process; SPEC's locked doors require it).
    console.log(`      one bare Node pipe hop adds ${(median(b.hopLatency) - median(b.latency)).toFixed(3)} ms on this machine (reference)`);
    console.log(`${verdict(ratio >= 0.85)}  isolated req/s are ${ratio.toFixed(2)}× not isolated (target ≥ 0.85×)`);
  }
} finally {
  await Promise.all(stacks.map((s) => s.stop()));
  fs.rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}
