// `npm run bench:isolation` (part of `npm run bench`): what isolating and limiting local sandboxes
// costs, in one run, side by side. Three local stacks run at once: isolated and limited (bubblewrap
// + pasta + cgroups, the default on Linux), isolated without limits (SANDBOX_LIMITS=none), and not
// isolated (SANDBOX_ISOLATION=none); each serves the same echo service from a sandbox behind a
// preview URL, with the Worker on plain workerd as `npm start` runs it (BENCH_RUNTIME=wrangler:
// under wrangler dev, as `npm run dev` does). Measured alternately, so the machine's noise falls on
// all alike:
//   - sandbox cold start: POST /sandboxes → first exec answered (median; SPEC 5: ≤ 250 ms; limits
//     add ≤ 10 ms)
//   - preview latency: sequential GETs on one kept-alive connection (median; isolation adds ≤ 0.3 ms),
//     with a reference: the non-isolated service behind one bare Node pipe (tcp-pipe.js), which is
//     what any process between the Worker and a service costs on this machine
//   - requests/s at 32 connections through the preview URL (wrk, or a Node client without it;
//     median of rounds; isolated ≥ 0.85× not isolated)
//   - CPU shares: two busy sandboxes of the limited stack, with 1/4 and 3/4 vCPU, and the CPU time
//     each gets while both want every core (a 1:3 split, within a wide margin)
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

const CPU_SECONDS = Number(process.env.BENCH_CPU_SECONDS ?? 6);

/**
 * Two sandboxes, 1/4 and 3/4 vCPU, each running one busy loop per core; answers the CPU time each
 * got (its cgroup's) over CPU_SECONDS, once both run.
 */
async function cpuShares(api) {
  const boxes = [
    { id: 'cpu-low', vcpu: 0.25 },
    { id: 'cpu-high', vcpu: 0.75 },
  ];
  const loops = Array.from({ length: os.cpus().length }, () => 'sh -c "while :; do :; done" &').join(' ');
  for (const b of boxes) {
    await api('POST', '/sandboxes', { id: b.id, resources: { vcpu: b.vcpu, memoryMiB: 256 } });
    await api('POST', `/sandboxes/${b.id}/processes`, { command: `${loops} wait` });
  }
  const seconds = async () => Promise.all(boxes.map(async (b) => (await api('GET', `/sandboxes/${b.id}`)).resources.cpu.seconds));
  await new Promise((r) => setTimeout(r, 1000));
  const before = await seconds();
  await new Promise((r) => setTimeout(r, CPU_SECONDS * 1000));
  const after = await seconds();
  for (const b of boxes) await api('DELETE', `/sandboxes/${b.id}`);
  return { low: after[0] - before[0], high: after[1] - before[1] };
}

const stacks = [];
try {
  const wrkBin = which('wrk');
  const bundle = await echoBundle();
  say('starting three local stacks: isolated and limited, isolated with SANDBOX_LIMITS=none, and SANDBOX_ISOLATION=none');
  const modes = [
    { key: 'isolated', env: { SANDBOX_ISOLATION: 'namespaces' } },
    { key: 'unlimited', env: { SANDBOX_ISOLATION: 'namespaces', SANDBOX_LIMITS: 'none' } },
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
      const port = m.key === 'plain' ? 20000 + Math.floor(Math.random() * 20000) : 8080;
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

  const shares = await cpuShares(modes[0][runtimes[0].name].api);

  const [iso, unlimited, plain] = modes;
  const row = (name, a, u, b) => console.log(name.padEnd(52), String(a).padStart(12), String(u).padStart(12), String(b).padStart(14));
  const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
  console.log(`\nIsolation and limits cost — three local stacks in one run (${os.cpus().length} cores; load: ${wrkBin ? 'wrk' : 'Node client (install wrk for wrk)'})`);
  for (const rt of runtimes) {
    const a = iso[rt.name];
    const u = unlimited[rt.name];
    const b = plain[rt.name];
    console.log(`\n${rt.name}`.padEnd(53), 'isolated'.padStart(12), 'no limits'.padStart(12), 'not isolated'.padStart(14));
    row(`cold start, create → first exec (median of ${COLD_RUNS})`, fmt(median(a.cold)), fmt(median(u.cold)), fmt(median(b.cold)));
    row(`preview GET latency (median of ${ROUNDS} × ${GETS})`, fmt(median(a.latency)), fmt(median(u.latency)), fmt(median(b.latency)));
    row('  reference: not isolated + one bare Node pipe hop', '', '', fmt(median(b.hopLatency)));
    row(`preview req/s at 32 connections (median of ${ROUNDS})`, Math.round(median(a.rps)), Math.round(median(u.rps)), Math.round(median(b.rps)));
    const added = median(a.latency) - median(b.latency);
    const ratio = median(a.rps) / median(b.rps);
    const limitsCold = median(a.cold) - median(u.cold);
    const limitsLatency = median(a.latency) - median(u.latency);
    console.log(`${verdict(median(a.cold) <= 250)}  isolated cold start ${fmt(median(a.cold))} (target ≤ 250 ms)`);
    console.log(`${verdict(limitsCold <= 10)}  limits add ${limitsCold.toFixed(1)} ms to a cold start (target ≤ 10 ms)`);
    // Within noise: the spread of the unlimited stack's own rounds is the yardstick.
    const noise = Math.max(...u.latency) - Math.min(...u.latency);
    console.log(
      `${verdict(Math.abs(limitsLatency) <= Math.max(noise, 0.05))}  limits change a preview GET by ${limitsLatency.toFixed(3)} ms (within noise: the unlimited stack's rounds spread ${noise.toFixed(3)} ms)`,
    );
    console.log(`${verdict(added <= 0.3)}  isolation adds ${added.toFixed(3)} ms to a preview GET (target ≤ 0.3 ms)`);
    // What one process between the Worker and a service costs here, for comparison with the line
    // above (the relay is such a process; SPEC's locked doors require it).
    console.log(`      one bare Node pipe hop adds ${(median(b.hopLatency) - median(b.latency)).toFixed(3)} ms on this machine (reference)`);
    console.log(`${verdict(ratio >= 0.85)}  isolated req/s are ${ratio.toFixed(2)}× not isolated (target ≥ 0.85×)`);
  }
  const share = shares.low / (shares.low + shares.high);
  console.log(`\nCPU shares (limited stack): 1/4 and 3/4 vCPU, both busy on every core for ${CPU_SECONDS} s`);
  console.log(`  CPU time: ${shares.low.toFixed(2)} s and ${shares.high.toFixed(2)} s of ${(CPU_SECONDS * os.cpus().length).toFixed(0)} s`);
  console.log(`${share >= 0.15 && share <= 0.35 ? 'PASS' : 'FAIL'}  the 1/4 vCPU sandbox got ${(share * 100).toFixed(0)}% of their CPU time (target 25%, within 15–35%)`);
} finally {
  await Promise.all(stacks.map((s) => s.stop()));
  fs.rmSync(work, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}
