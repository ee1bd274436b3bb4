// `npm run bench:preview`: the preview proxy against its references, side by side, in one run
// (SPEC 5). One echo service (test/fixtures/services/echo-server.js) runs in a sandbox of the local
// stack; it is reached
//   1. directly (the floor),
//   2. through nginx (Debian package) as a reverse proxy,
//   3. through a minimal Worker → Durable Object → fetch proxy (test/fixtures/minimal-proxy) on
//      plain workerd, the runtime `npm start` uses, from a config built as npm start builds its own,
//   4. through our preview URL (exposePort) on the stack `npm start` runs,
// plus, as context, our Worker alone (GET /api/v1/health, no Durable Object hop). With
// BENCH_WRANGLER=1 the same pair also runs under wrangler dev (what `npm run dev` runs).
// The traffic inspector's cost: our preview URL (recording) against the same service exposed with
// inspect: false, for an answer with a Content-Length and a chunked one (`?chunked`), beside the
// floor: the minimal proxy as the least recorder (both headers copied, a copy of the body read,
// an entry kept in a ring of 200; WebSocket messages relayed one by one), with the CPU time per request of each; then the Worker's memory once the records of 20
// exposures are full (BENCH_RING_EXPOSURES).
// Then the Worker's memory: its processes' RSS while 200 connections load the preview URL for
// BENCH_HOLD_SECONDS (60), and 10 s after they close.
// Knobs: BENCH_ROUNDS, BENCH_GETS, BENCH_WS, BENCH_WRK_SECONDS, BENCH_TURN_SECONDS,
// BENCH_HOLD_SECONDS (0 skips the memory phase), BENCH_WRANGLER=1, BENCH_STRICT=1 (exit 1 on a FAIL).
// Figures: median latency of sequential GETs, requests/s at 32 connections (wrk, median of rounds)
// and WebSocket echo round trip. Measurements are interleaved in rounds so machine noise hits all
// targets alike. Every process started here is stopped by its process group, also on error.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, nodeBinary, root, startStack } from '../../scripts/stack.mjs';
import { apiCaller, median, percentile, fmt } from './lib.mjs';
import { openEchoSocket, sequentialGets, wrk } from './clients.mjs';
import { startNginx } from './nginx.mjs';
import { groupCpuMs, groupRssMb, stopAll } from './procs.mjs';
import { startMinimalProxy } from './minimal-proxy.mjs';
import { fillRings, inspectorChecks } from './inspector.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const GETS_PER_ROUND = Number(process.env.BENCH_GETS ?? 300);
const WS_PER_ROUND = Number(process.env.BENCH_WS ?? 100);
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 5);
// The inspector's requests/s pairs: wrk runs of this long, twice a round for each target.
const TURN_SECONDS = Number(process.env.BENCH_TURN_SECONDS ?? 2);
const CONNECTIONS = 32;
const HOLD_SECONDS = Number(process.env.BENCH_HOLD_SECONDS ?? 60);
const HELD_CONNECTIONS = 200;
const RING_EXPOSURES = Number(process.env.BENCH_RING_EXPOSURES ?? 20);

const ECHO_SERVER = path.join(root, 'test/fixtures/services/echo-server.js');

// ---- tools this benchmark needs from the system ----
function which(cmd) {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${cmd} || { [ -x /usr/sbin/${cmd} ] && echo /usr/sbin/${cmd}; }`], { encoding: 'utf8' });
  return r.stdout?.trim() || null;
}
const nginxBin = which('nginx');
const wrkBin = which('wrk');
if (!nginxBin || !wrkBin) {
  const missing = [!nginxBin && 'nginx', !wrkBin && 'wrk'].filter(Boolean).join(' and ');
  console.error(
    `npm run bench:preview needs ${missing} (Debian packages). Install both with:\n\n  apt-get install -y nginx wrk\n\n(as root, or with sudo; run apt-get update first on a fresh machine).`,
  );
  process.exit(2);
}

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ports-bench-preview-'));
const logPath = path.join(stateDir, 'bench.log');
const log = fs.createWriteStream(logPath);
const started = Date.now();
const say = (msg) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);

const stacks = [];
let exitCode = 0;
const sockets = [];
try {
  const runtimes = [{ key: 'workerd', label: 'plain workerd (npm start)' }];
  if (process.env.BENCH_WRANGLER === '1') runtimes.push({ key: 'wrangler', label: 'wrangler dev (npm run dev)' });
  const targets = [];
  let servicePort;
  for (const rt of runtimes) {
    say(`starting the local stack on ${rt.label} (log: ${logPath})`);
    // Not isolated: the references (direct, nginx, the minimal proxy) reach the same service on this
    // machine's ports. What isolation adds is measured by bench:isolation.
    const stack = await startStack({ runtime: rt.key, stateDir: path.join(stateDir, `stack-${rt.key}`), log, env: { SANDBOX_ISOLATION: 'none' } });
    stacks.push(stack);
    rt.stack = stack;
    const api = apiCaller(stack);
    const box = `bench-preview-${rt.key}`;
    await api('POST', '/sandboxes', { id: box });
    const port = await freePort();
    const proc = await api('POST', `/sandboxes/${box}/processes`, {
      command: `${nodeBinary()} ${ECHO_SERVER} ${port} 0.0.0.0`,
      env: { NODE_PATH: path.join(root, 'node_modules') },
    });
    await api('POST', `/sandboxes/${box}/processes/${proc.id}/wait-for-log`, { pattern: 'echo server ready', timeout: 15000 });
    const preview = new URL((await api('POST', `/sandboxes/${box}/ports`, { port, token: 'bench' })).url);
    // The same service again, exposed with the traffic inspector off: what recording costs.
    const quietPort = await freePort();
    const quiet = await api('POST', `/sandboxes/${box}/processes`, {
      command: `${nodeBinary()} ${ECHO_SERVER} ${quietPort} 0.0.0.0`,
      env: { NODE_PATH: path.join(root, 'node_modules') },
    });
    await api('POST', `/sandboxes/${box}/processes/${quiet.id}/wait-for-log`, { pattern: 'echo server ready', timeout: 15000 });
    const uninspected = new URL((await api('POST', `/sandboxes/${box}/ports`, { port: quietPort, token: 'bench-off', inspect: false })).url);
    rt.api = api;
    rt.box = box;
    servicePort ??= port;
    say(`starting the minimal proxy on ${rt.label}`);
    const minimal = await startMinimalProxy({ runtime: rt.key, dir: path.join(stateDir, `minimal-${rt.key}`), servicePort, log });
    rt.minimal = minimal;
    // Every target of this runtime: the minimal proxy's and ours, each measured by its own CPU time.
    const viaMinimal = (key, name, p, ws) => ({ key: `${key}-${rt.key}`, name, port: minimal.port, host: `127.0.0.1:${minimal.port}`, path: p, ws, cpu: minimal.child });
    const heal = () => api('POST', `/sandboxes/${box}/exec`, { command: 'true' });
    const viaOurs = (key, name, host, p, ws) => ({ key: `${key}-${rt.key}`, name, port: stack.port, host, path: p, ws, cpu: stack.worker, heal });
    targets.push(
      viaMinimal('minimal', `minimal Worker→DO→fetch (${minimal.name})`, '/', true),
      // The floor of any inspector on this runtime: the minimal proxy as the least recorder (both
      // headers copied, a copy of the body read, an entry kept in a ring of 200), relaying
      // WebSocket messages one by one (to count them).
      viaMinimal('minimalrecord', '  minimal proxy + least recorder (floor)', '/__record/', true),
      // The same without a Content-Length (chunked): the copy of such a body is read chunk by chunk.
      viaMinimal('minimalchunked', '  minimal proxy, chunked answer', '/?chunked', false),
      viaMinimal('minimalrecordchunked', '  minimal proxy + least recorder, chunked (floor)', '/__record/?chunked', false),
      viaOurs('ours', `our preview URL (${rt.label})`, preview.host, '/', true),
      viaOurs('ourschunked', '  our preview URL, chunked answer', preview.host, '/?chunked', false),
      viaOurs('quiet', `our preview URL, inspect: false (${rt.key})`, uninspected.host, '/', true),
      viaOurs('quietchunked', '  inspect: false, chunked answer', uninspected.host, '/?chunked', false),
      { key: `worker-${rt.key}`, name: `  context: our Worker alone, /health`, port: stack.port, host: `127.0.0.1:${stack.port}`, path: '/api/v1/health', ws: false },
    );
  }
  say('starting nginx');
  const nginx = await startNginx({ bin: nginxBin, dir: path.join(stateDir, 'nginx'), upstreamPort: servicePort });
  targets.unshift(
    { key: 'direct', name: 'direct to the Node service', port: servicePort, host: `localhost:${servicePort}`, path: '/', ws: true },
    { key: 'nginx', name: 'nginx → service', port: nginx.port, host: `localhost:${nginx.port}`, path: '/', ws: true },
  );

  // wrangler dev reloads the Worker when a file under worker/ changes; the reloaded Sandbox Durable
  // Object then answers previews with 503 SANDBOX_NOT_RUNNING until an API call adopts the agent
  // again. Each measurement of our proxy starts with a check, so a reload shows as a note, not a crash.
  const heals = [];
  const ensureServing = async (t) => {
    if (!t.heal) return;
    try {
      await sequentialGets(t, 1);
    } catch (err) {
      if (!/answered 503/.test(err.message)) throw err;
      heals.push(`${t.name}: ${err.message.slice(err.message.indexOf('answered'), 120)}`);
      await t.heal();
      await sequentialGets(t, 1);
    }
  };

  // ---- warm-up and a check that every target answers the echo service ----
  say(`warming up ${targets.length} targets`);
  for (const t of targets) {
    await ensureServing(t);
    await sequentialGets(t, 50);
    await wrk(t, { bin: wrkBin, seconds: 1, connections: CONNECTIONS });
    if (t.ws) {
      t.socket = await openEchoSocket(t);
      sockets.push(t.socket);
      await t.socket.echo(20);
    }
    t.lat = [];
    t.rps = [];
    t.wsRtt = [];
    t.wsTurns = [];
    t.rpsTurns = [];
    t.cpuUs = [];
    t.errors = 0;
  }

  const ofWorkerd = (keys) => keys.map((k) => targets.find((t) => t.key === `${k}-workerd`));
  const wsInTurn = ofWorkerd(['ours', 'quiet', 'minimalrecord', 'minimal']);
  const rpsInTurn = ofWorkerd(['ours', 'quiet', 'ourschunked', 'quietchunked', 'minimalrecord', 'minimal', 'minimalrecordchunked', 'minimalchunked']);

  // ---- interleaved rounds: each round visits every target, in a rotated order ----
  for (let round = 0; round < ROUNDS; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]);
    say(`round ${round + 1}/${ROUNDS}`);
    for (const t of order) {
      await ensureServing(t);
      // CPU time of the proxy's processes per request: steadier than timings on a shared machine.
      const cpuBefore = t.cpu ? groupCpuMs(t.cpu) : 0;
      t.lat.push(...(await sequentialGets(t, GETS_PER_ROUND)));
      if (t.cpu) t.cpuUs.push(((groupCpuMs(t.cpu) - cpuBefore) * 1000) / GETS_PER_ROUND);
      if (t.socket) t.wsRtt.push(...(await t.socket.echo(WS_PER_ROUND)));
      const r = await wrk(t, { bin: wrkBin, seconds: WRK_SECONDS, connections: CONNECTIONS });
      t.rps.push(r.rps);
      t.errors += r.non2xx + r.socketErrors;
    }
    // The inspector's verdicts, each pair (recording on, then off) measured back to back: its
    // WebSocket echo in turn, a message each, so all four sockets meet the same moments of a shared
    // machine; its requests/s in short wrk runs, the pairs in order and then in reverse (a drift
    // over the round weighs on both sides alike).
    for (let i = 0; i < WS_PER_ROUND; i++) for (const t of wsInTurn) t.wsTurns.push(...(await t.socket.echo(1)));
    for (const pass of [rpsInTurn, [...rpsInTurn].reverse()]) {
      for (const t of pass) {
        const r = await wrk(t, { bin: wrkBin, seconds: TURN_SECONDS, connections: CONNECTIONS });
        t.rpsTurns.push(r.rps);
        t.errors += r.non2xx + r.socketErrors;
      }
    }
  }

  // ---- report ----
  const by = Object.fromEntries(targets.map((t) => [t.key, t]));
  const num = (n) => Math.round(n).toLocaleString('en-US');
  console.log(`\nSandbox Ports preview-proxy benchmark — ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`);
  console.log(`service: echo-server.js (GET / → JSON echo) in a sandbox, port ${servicePort}; ${ROUNDS} interleaved rounds;`);
  console.log(`latency: ${GETS_PER_ROUND}×${ROUNDS} sequential GETs on one kept-alive connection; req/s: wrk -t2 -c${CONNECTIONS} -d${WRK_SECONDS}s, median of rounds;`);
  console.log(`WS echo: ${WS_PER_ROUND}×${ROUNDS} sequential 40-byte messages on one connection.\n`);
  const header = [
    'target'.padEnd(52),
    'GET median'.padStart(10),
    'GET p90'.padStart(9),
    'req/s@32'.padStart(9),
    '  rounds'.padEnd(26),
    'WS echo'.padStart(9),
    'WS p90'.padStart(9),
  ];
  console.log(header.join(' '));
  for (const t of targets) {
    const rounds = t.rps.map((r) => num(r)).join(' / ');
    console.log(
      [
        t.name.padEnd(52),
        fmt(median(t.lat)).padStart(10),
        fmt(percentile(t.lat, 0.9)).padStart(9),
        num(median(t.rps)).padStart(9),
        `  ${rounds}`.padEnd(26),
        (t.ws ? fmt(median(t.wsRtt)) : '—').padStart(9),
        (t.ws ? fmt(percentile(t.wsRtt, 0.9)) : '—').padStart(9),
      ].join(' ') + (t.errors ? `  (${t.errors} errors/non-2xx under load)` : ''),
    );
  }

  if (heals.length > 0) {
    console.log(`\nNote: our preview answered 503 ${heals.length}× before a measurement (the Worker was reloaded — wrangler dev watches worker/ — and`);
    console.log(`the new Sandbox Durable Object reports the sandbox stopped until an API call adopts its agent); an exec call restored it each time.`);
  }

  const verdicts = [];
  const judge = (label, ours, ref) => {
    const checks = [
      ['median GET latency', median(ours.lat) / median(ref.lat), '≤', 1.3, fmt(median(ours.lat)), fmt(median(ref.lat))],
      ['req/s at 32 connections', median(ours.rps) / median(ref.rps), '≥', 0.8, num(median(ours.rps)), num(median(ref.rps))],
      ['WebSocket echo round trip', median(ours.wsRtt) / median(ref.wsRtt), '≤', 1.5, fmt(median(ours.wsRtt)), fmt(median(ref.wsRtt))],
    ];
    console.log(`\nSPEC 5 targets, ${label} (ours / minimal Worker→DO→fetch proxy):`);
    for (const [what, ratio, op, limit, a, b] of checks) {
      const pass = op === '≤' ? ratio <= limit : ratio >= limit;
      verdicts.push(pass);
      console.log(`  ${what.padEnd(27)} ${ratio.toFixed(2)}× (${a} vs ${b})`.padEnd(72) + `target ${op} ${limit}×   ${pass ? 'PASS' : 'FAIL'}`);
    }
  };
  for (const rt of runtimes) judge(rt.label, by[`ours-${rt.key}`], by[`minimal-${rt.key}`]);

  const ours = by['ours-workerd'];
  const added = median(ours.lat) - median(by.direct.lat);
  console.log(`\nWhat a user of npm start feels (our preview URL on plain workerd, beside direct and nginx):`);
  const feel = [
    [
      `median GET ${fmt(median(ours.lat))}: ${added.toFixed(2)} ms over direct (${fmt(median(by.direct.lat))}); nginx ${fmt(median(by.nginx.lat))}`,
      'target ≤ 1.5 ms over direct',
      added <= 1.5,
    ],
    [
      `${num(median(ours.rps))} req/s at ${CONNECTIONS} connections (direct ${num(median(by.direct.rps))}, nginx ${num(median(by.nginx.rps))})`,
      'target ≥ 2,000',
      median(ours.rps) >= 2000,
    ],
  ];
  for (const [what, target, pass] of feel) {
    verdicts.push(pass);
    console.log(`  ${what}`.padEnd(100) + `${target}   ${pass ? 'PASS' : 'FAIL'}`);
  }

  const inspectChecks = inspectorChecks(by);
  console.log(`
The traffic inspector (recording on, against inspect: false on the same service):`);
  for (const [what, target, pass] of inspectChecks) {
    if (pass !== null) verdicts.push(pass);
    console.log(`  ${what}`.padEnd(100) + (pass === null ? target : `${target}   ${pass ? 'PASS' : 'FAIL'}`));
  }
  if (RING_EXPOSURES > 0) {
    for (const s of sockets.splice(0)) s.close();
    const rt = runtimes[0];
    say(`memory: full inspector records on ${RING_EXPOSURES} exposures`);
    const { before, after, kept } = await fillRings(rt, RING_EXPOSURES);
    console.log(`
The Worker's memory with the inspector's records full on ${RING_EXPOSURES} exposures (${kept} entries kept, each with a 64 KiB body):`);
    console.log(`  RSS ${before.toFixed(0)} MB before, ${after.toFixed(0)} MB after: +${(after - before).toFixed(0)} MB (each exposure keeps at most 4 MiB of records)`);
  }

  if (HOLD_SECONDS > 0) {
    for (const s of sockets.splice(0)) s.close();
    const rt = runtimes[0];
    const worker = rt.stack.worker;
    say(`memory: ${HELD_CONNECTIONS} connections on our preview URL for ${HOLD_SECONDS} s`);
    const before = groupRssMb(worker);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, groupRssMb(worker))), 500);
    const load = await wrk(ours, { bin: wrkBin, seconds: HOLD_SECONDS, connections: HELD_CONNECTIONS });
    clearInterval(sampler);
    peak = Math.max(peak, groupRssMb(worker));
    await new Promise((r) => setTimeout(r, 10000));
    const after = groupRssMb(worker);
    const checks = [
      [
        `peak RSS ${peak.toFixed(0)} MB with ${HELD_CONNECTIONS} connections for ${HOLD_SECONDS} s (${num(load.rps)} req/s; ${before.toFixed(0)} MB before)`,
        'target < 250 MB',
        peak < 250,
      ],
      [`RSS 10 s after they closed: ${after.toFixed(0)} MB`, 'target < 150 MB', after < 150],
    ];
    console.log(`\nThe Worker's processes (workerd, the process group npm start runs), from /proc:`);
    for (const [what, target, pass] of checks) {
      verdicts.push(pass);
      console.log(`  ${what}`.padEnd(100) + `${target}   ${pass ? 'PASS' : 'FAIL'}`);
    }
  }
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  if (process.env.BENCH_STRICT === '1' && verdicts.includes(false)) exitCode = 1;
} catch (err) {
  console.error(`\nbench:preview failed: ${err.stack ?? err}\n(log: ${logPath})`);
  exitCode = 1;
} finally {
  for (const s of sockets) s.close();
  await Promise.all([stopAll(), ...stacks.map((s) => s.stop())]);
  log.end();
}
process.exit(exitCode);
