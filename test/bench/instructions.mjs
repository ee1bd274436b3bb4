// `npm run bench:instructions`: what the traffic inspector costs, counted in CPU instructions
// rather than timed. Timings on this shared 2-core machine swing by a third from round to round;
// valgrind's callgrind counts the instructions workerd runs, whatever else the machine does; what
// still moves them (the garbage collector's and the compiler's work falls in one round or the next,
// some ±10 % of a round of 300) is evened out by longer rounds and the median of five.
// Our preview URL with recording on against inspect: false, beside the floor: the minimal Worker → Durable Object → fetch proxy plain and as the least recorder
// (both headers copied, a copy of each body read, an entry kept in a ring of 200;
// test/fixtures/minimal-proxy), each for an answer with a Content-Length and a chunked
// one. A proxy bound by its CPU serves requests in inverse proportion to its instructions, so the
// ratio off/on is what recording leaves of the requests/s, judged against the floor's (SPEC 5:
// ours ≥ 0.95 × floor).
// Under valgrind a request takes milliseconds (3 to 50, by machine), so work done once per interval (entries made
// within 250 ms while no one follows them live, the tree's count once a second) falls on far fewer
// requests than at full speed: our figures are an upper bound.
// Each round of a target starts with BENCH_SETTLE GETs of it uncounted: the garbage the target
// before it left in the same process is collected then (a round of the plain minimal proxy that
// followed the recorder's counted up to 45 % more), and the compiled code has met this traffic.
// Knobs: BENCH_GETS (per round, 600), BENCH_ROUNDS (5), BENCH_WARM (GETs before counting, 1000),
// BENCH_SETTLE (uncounted GETs before each round of a target, 200),
// BENCH_STRICT=1 (exit 1 on a FAIL). Every process started here is stopped, also on error.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, nodeBinary, root, startStack } from '../../scripts/stack.mjs';
import { apiCaller, median } from './lib.mjs';
import { sequentialGets } from './clients.mjs';
import { stopAll } from './procs.mjs';
import { startMinimalProxy } from './minimal-proxy.mjs';

const GETS = Number(process.env.BENCH_GETS ?? 600);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARM = Number(process.env.BENCH_WARM ?? 1000);
const SETTLE = Number(process.env.BENCH_SETTLE ?? 200);
const READY_MS = 10 * 60 * 1000;
const ECHO_SERVER = path.join(root, 'test/fixtures/services/echo-server.js');

if (spawnSync('/bin/sh', ['-c', 'command -v valgrind && command -v callgrind_control']).status !== 0) {
  console.error('npm run bench:instructions needs valgrind (Debian package). Install it with:\n\n  apt-get install -y valgrind\n');
  process.exit(2);
}

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ports-bench-instructions-'));
const dumps = path.join(stateDir, 'callgrind');
fs.mkdirSync(dumps);
const log = fs.createWriteStream(path.join(stateDir, 'bench.log'));
const started = Date.now();
const say = (msg) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
// Counting starts off (workerd's start-up is not counted) and is switched on after the warm-up.
const wrap = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', '--dump-instr=no', '--instr-atstart=no', `--callgrind-out-file=${dumps}/cg.%p`];

/** Runs callgrind_control on `pid`; a request to `poke` wakes workerd so it takes the command. */
async function control(proc, ...args) {
  const child = spawn('callgrind_control', [...args, String(proc.pid)], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  while (child.exitCode === null) {
    await fetch(proc.poke).catch(() => {});
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
}

/** Instructions counted in `proc` since its last dump (the dump resets the count). */
async function counted(proc) {
  await control(proc, '-d');
  let total = 0;
  for (const f of fs.readdirSync(dumps).filter((f) => f.startsWith(`cg.${proc.pid}.`))) {
    const m = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(path.join(dumps, f), 'utf8'));
    if (m) total += Number(m[1]);
    fs.rmSync(path.join(dumps, f));
  }
  return total;
}

let exitCode = 0;
let stack;
try {
  say('starting the local stack under valgrind');
  stack = await startStack({ stateDir: path.join(stateDir, 'stack'), log, env: { SANDBOX_ISOLATION: 'none' }, wrap, readyTimeoutMs: READY_MS });
  const api = apiCaller(stack);
  const box = 'bench-instructions';
  await api('POST', '/sandboxes', { id: box });
  const hosts = {};
  let servicePort;
  for (const [key, inspect] of [
    ['on', true],
    ['off', false],
  ]) {
    const port = await freePort();
    servicePort ??= port;
    const proc = await api('POST', `/sandboxes/${box}/processes`, {
      command: `${nodeBinary()} ${ECHO_SERVER} ${port} 0.0.0.0`,
      env: { NODE_PATH: path.join(root, 'node_modules') },
    });
    await api('POST', `/sandboxes/${box}/processes/${proc.id}/wait-for-log`, { pattern: 'echo server ready', timeout: 60000 });
    hosts[key] = new URL((await api('POST', `/sandboxes/${box}/ports`, { port, token: `bench-${key}`, inspect })).url).host;
  }
  say('starting the minimal proxy under valgrind');
  const minimal = await startMinimalProxy({ dir: path.join(stateDir, 'minimal'), servicePort, log, wrap, readyTimeoutMs: READY_MS });
  const ours = { pid: stack.worker.pid, poke: `${stack.url}/api/v1/health` };
  const floor = { pid: minimal.child.pid, poke: `${minimal.url}/closed` };
  const target = (key, name, proc, port, host, p) => ({ key, name, proc, port, host, path: p, counts: [] });
  const targets = [
    target('on', 'our preview URL, recording', ours, stack.port, hosts.on, '/'),
    target('off', 'our preview URL, inspect: false', ours, stack.port, hosts.off, '/'),
    target('onChunked', '  recording, chunked answer', ours, stack.port, hosts.on, '/?chunked'),
    target('offChunked', '  inspect: false, chunked answer', ours, stack.port, hosts.off, '/?chunked'),
    target('copy', 'minimal proxy + least recorder (floor)', floor, minimal.port, `127.0.0.1:${minimal.port}`, '/__record/'),
    target('plain', 'minimal proxy', floor, minimal.port, `127.0.0.1:${minimal.port}`, '/'),
    target('copyChunked', '  + least recorder, chunked answer (floor)', floor, minimal.port, `127.0.0.1:${minimal.port}`, '/__record/?chunked'),
    target('plainChunked', '  chunked answer', floor, minimal.port, `127.0.0.1:${minimal.port}`, '/?chunked'),
  ];
  say(`warming up: ${WARM} GETs on each of ${targets.length} targets`);
  for (const t of targets) await sequentialGets(t, WARM);
  for (const proc of [ours, floor]) await control(proc, '-i', 'on');
  for (let round = 0; round < ROUNDS; round++) {
    say(`round ${round + 1}/${ROUNDS}`);
    for (const t of targets.map((_, i) => targets[(i + round) % targets.length])) {
      await sequentialGets(t, SETTLE);
      await counted(t.proc);
      await sequentialGets(t, GETS);
      t.counts.push((await counted(t.proc)) / GETS / 1000);
    }
  }

  const by = Object.fromEntries(targets.map((t) => [t.key, median(t.counts)]));
  console.log(`\nSandbox Ports: the traffic inspector's cost in instructions — workerd under callgrind, ${GETS}×${ROUNDS} sequential GETs per target`);
  console.log('(thousands of instructions per request, median of rounds; each round in brackets)\n');
  for (const t of targets) console.log(`  ${t.name.padEnd(44)} ${by[t.key].toFixed(0).padStart(6)} k   [${t.counts.map((c) => c.toFixed(0)).join(' / ')}]`);
  const verdicts = [];
  console.log('\nWhat recording leaves of the requests/s of a proxy bound by its CPU (off / on), beside the floor (SPEC 5):');
  for (const [label, on, off, copy, plain] of [
    ['answer with a Content-Length', 'on', 'off', 'copy', 'plain'],
    ['chunked answer', 'onChunked', 'offChunked', 'copyChunked', 'plainChunked'],
  ]) {
    const ratio = by[off] / by[on];
    const floorRatio = by[plain] / by[copy];
    const pass = ratio >= 0.95 * Math.min(1, floorRatio);
    verdicts.push(pass);
    const added = `recording adds ${(by[on] - by[off]).toFixed(0)} k (+${((by[on] / by[off] - 1) * 100).toFixed(0)}%); the floor's recorder ${(by[copy] - by[plain]).toFixed(0)} k (+${((by[copy] / by[plain] - 1) * 100).toFixed(0)}%)`;
    console.log(`  ${label}: ${added}`);
    console.log(`    ${ratio.toFixed(2)}× against the floor's ${floorRatio.toFixed(2)}×`.padEnd(72) + `target ≥ 0.95 × floor   ${pass ? 'PASS' : 'FAIL'}`);
  }
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  if (process.env.BENCH_STRICT === '1' && verdicts.includes(false)) exitCode = 1;
} catch (err) {
  console.error(`\nbench:instructions failed: ${err.stack ?? err}\n(log: ${path.join(stateDir, 'bench.log')})`);
  exitCode = 1;
} finally {
  await Promise.all([stopAll(), stack?.stop()]);
  log.end();
}
process.exit(exitCode);
