// `npm run bench:isolation` (part of `npm run bench`): what isolating local sandboxes costs, in one
// run, side by side. Two local stacks run at once, one isolated (bubblewrap + pasta, the default
// on Linux) and one with SANDBOX_ISOLATION=none; each serves the same echo service from a sandbox
// behind a preview URL. Measured alternately, so the machine's noise falls on both alike:
//   - sandbox cold start: POST /sandboxes → first exec answered (median; SPEC 5: ≤ 250 ms)
//   - preview latency: sequential GETs on one kept-alive connection (median; isolation adds ≤ 0.3 ms)
//   - requests/s at 32 connections through the preview URL (wrk, or a Node client without it;
//     median of rounds; isolated ≥ 0.85× not isolated)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { root, startStack } from '../../scripts/stack.mjs';
import { sequentialGets, wrk } from './clients.mjs';
import { apiCaller, fmt, median } from './lib.mjs';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 10);
const GETS = Number(process.env.BENCH_GETS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

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
  await build({ entryPoints: [path.join(root, 'test/fixtures/services/echo-server.js')], outfile, bundle: true, platform: 'node', format: 'cjs', external: ['bufferutil', 'utf-8-validate'], logLevel: 'warning' });
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
  for (const m of modes) {
    m.stack = await startStack({ stateDir: path.join(work, m.key), log, env: m.env });
    stacks.push(m.stack);
    m.api = apiCaller(m.stack);
  }

  // Cold start, alternating between the two.
  for (const m of modes) m.cold = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    for (const m of modes) {
      const id = `cold-${m.key}-${i}`;
      const t0 = performance.now();
      await m.api('POST', '/sandboxes', { id });
      await m.api('POST', `/sandboxes/${id}/exec`, { command: 'true' });
      m.cold.push(performance.now() - t0);
      await m.api('DELETE', `/sandboxes/${id}`);
    }
  }

  say('starting the echo service in a sandbox of each and exposing it');
  for (const m of modes) {
    const box = `echo-${m.key}`;
    await m.api('POST', '/sandboxes', { id: box });
    await m.api('PUT', `/sandboxes/${box}/files?path=${encodeURIComponent('/workspace/echo-server.js')}`, bundle);
    // Each stack has its own network view when isolated; the plain one shares the host's ports.
    const port = m.key === 'isolated' ? 8080 : 20000 + Math.floor(Math.random() * 20000);
    const proc = await m.api('POST', `/sandboxes/${box}/processes`, { command: `node echo-server.js ${port} 0.0.0.0` });
    await m.api('POST', `/sandboxes/${box}/processes/${proc.id}/wait-for-log`, { pattern: 'echo server ready', timeout: 15000 });
    const url = new URL((await m.api('POST', `/sandboxes/${box}/ports`, { port, token: 'bench' })).url);
    m.target = { name: `preview (${m.key})`, port: m.stack.port, host: url.host, path: '/' };
    await sequentialGets(m.target, 200); // warm both paths
  }

  for (const m of modes) {
    m.latency = [];
    m.rps = [];
  }
  for (let round = 0; round < ROUNDS; round++) {
    say(`round ${round + 1} of ${ROUNDS}`);
    for (const m of modes) m.latency.push(median(await sequentialGets(m.target, GETS)));
    for (const m of modes) m.rps.push((wrkBin ? await wrk(m.target, { bin: wrkBin, seconds: SECONDS }) : await nodeLoad(m.target, SECONDS)).rps);
  }

  const [iso, plain] = modes;
  const row = (name, a, b, unit) => console.log(name.padEnd(44), `${a}${unit}`.padStart(14), `${b}${unit}`.padStart(14));
  console.log(`\nIsolation cost — two local stacks in one run (${os.cpus().length} cores; load: ${wrkBin ? 'wrk' : 'Node client (install wrk for wrk)'})`);
  console.log(''.padEnd(44), 'isolated'.padStart(14), 'not isolated'.padStart(14));
  row(`cold start, create → first exec (median of ${COLD_RUNS})`, fmt(median(iso.cold)), fmt(median(plain.cold)), '');
  row(`preview GET latency (median of ${ROUNDS} × ${GETS})`, fmt(median(iso.latency)), fmt(median(plain.latency)), '');
  row(`preview req/s at 32 connections (median of ${ROUNDS})`, Math.round(median(iso.rps)), Math.round(median(plain.rps)), '');
  const added = median(iso.latency) - median(plain.latency);
  const ratio = median(iso.rps) / median(plain.rps);
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
  console.log(`\n${verdict(median(iso.cold) <= 250)}  isolated cold start ${fmt(median(iso.cold))} (target ≤ 250 ms)`);
  console.log(`${verdict(added <= 0.3)}  isolation adds ${added.toFixed(3)} ms to a preview GET (target ≤ 0.3 ms)`);
  console.log(`${verdict(ratio >= 0.85)}  isolated req/s are ${ratio.toFixed(2)}× not isolated (target ≥ 0.85×)`);
} finally {
  await Promise.all(stacks.map((s) => s.stop()));
  fs.rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}
