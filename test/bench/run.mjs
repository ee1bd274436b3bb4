// `npm run bench`: figures for the backbone, as medians over repeated runs against the real
// local stack as `npm start` runs it (plain workerd + the local container host + real agents).
//   - sandbox cold start: POST /sandboxes → first exec answered
//   - exec("true") round trip
//   - startProcess round trip
//   - log-line latency: a process writes a line → a client reading the log stream has it
// Each figure is printed with its sample count, median, p90 and the reference it is compared to.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack } from '../../scripts/stack.mjs';
import { SseReader, apiCaller, median, percentile, fmt } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ports-bench-'));
const log = fs.createWriteStream(path.join(stateDir, 'stack.log'));
const stack = await startStack({ stateDir, log });
const api = apiCaller(stack);
const time = async (fn) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

try {
  const results = [];

  // Health round trip: the floor every control call pays.
  const health = [];
  for (let i = 0; i < RUNS * 2; i++) health.push(await time(() => fetch(`${stack.url}/api/v1/health`).then((r) => r.text())));
  results.push(['GET /health (Worker only, reference floor)', health]);

  const cold = [];
  for (let i = 0; i < Math.min(RUNS, 8); i++) {
    const id = `bench-cold-${i}`;
    cold.push(
      await time(async () => {
        await api('POST', '/sandboxes', { id });
        await api('POST', `/sandboxes/${id}/exec`, { command: 'true' });
      }),
    );
    await api('DELETE', `/sandboxes/${id}`);
  }
  results.push(['sandbox cold start (create → first exec)', cold]);

  await api('POST', '/sandboxes', { id: 'bench' });
  const execs = [];
  for (let i = 0; i < RUNS * 2; i++) execs.push(await time(() => api('POST', '/sandboxes/bench/exec', { command: 'true' })));
  results.push(['exec("true") round trip', execs]);

  const starts = [];
  for (let i = 0; i < RUNS * 2; i++) starts.push(await time(() => api('POST', '/sandboxes/bench/processes', { command: 'true' })));
  results.push(['startProcess round trip', starts]);

  // Log-line latency: the process prints its own wall-clock time; the client compares on arrival.
  const proc = await api('POST', '/sandboxes/bench/processes', {
    command: `python3 -u -c "import time,sys
for i in range(${RUNS * 4}):
    time.sleep(0.05); sys.stdout.write('t %d\\n' % (time.time_ns() // 1000)); sys.stdout.flush()"`,
  });
  const reader = new SseReader(`${stack.url}/api/v1/sandboxes/bench/processes/${proc.id}/logs/stream`, { authorization: `Bearer ${stack.token}` });
  const lat = [];
  for await (const msg of reader.messages()) {
    const now = (performance.timeOrigin + performance.now()) * 1000;
    if (msg.event === 'exit') break;
    if (msg.event !== 'log') continue;
    for (const line of JSON.parse(msg.data).data.split('\n')) {
      const m = /^t (\d+)/.exec(line);
      if (m) lat.push((now - Number(m[1])) / 1000);
    }
  }
  results.push(['log line: process write → stream client (ms)', lat.slice(2)]);

  console.log(`\nSandbox Ports backbone benchmark — local stack (wrangler dev ${stack.url}), ${os.cpus().length} cores`);
  console.log('figure'.padEnd(48), 'n'.padStart(4), 'median'.padStart(10), 'p90'.padStart(10));
  for (const [name, xs] of results) console.log(name.padEnd(48), String(xs.length).padStart(4), fmt(median(xs)).padStart(10), fmt(percentile(xs, 0.9)).padStart(10));
  const floor = median(health);
  console.log(`\nReference: the Worker-only /health round trip (${fmt(floor)}) is the floor under wrangler dev;`);
  console.log(`exec costs ${(median(execs) / floor).toFixed(1)}× that floor, startProcess ${(median(starts) / floor).toFixed(1)}×.`);
  console.log(`SPEC 5 wants log lines in the editor within 100 ms at p99; here p99 to a stream client is ${fmt(percentile(lat, 0.99))}.`);
} finally {
  await stack.stop();
}
