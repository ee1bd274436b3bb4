// The traffic inspector's part of `npm run bench:preview`: its verdicts, recording on against
// inspect: false beside the floor (the minimal proxy as the least recorder of the same traffic), and the
// records of many exposures filled to measure the Worker's memory.
import http from 'node:http';
import { freePort } from '../../scripts/stack.mjs';
import { median, fmt } from './lib.mjs';
import { groupRssMb } from './procs.mjs';

const num = (n) => Math.round(n).toLocaleString('en-US');
const signed = (n, digits = 3) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;

/**
 * The median of a's figure over b's measured next to it (requests/s, each pair back to back): a
 * shared 2-core machine that slows down for a while moves both figures of a pair, which a ratio of
 * medians taken minutes apart does not cancel (one target's rounds moved by a fifth to a half
 * within a run).
 */
export function pairedRatio(a, b) {
  return median(a.map((x, i) => x / b[i]));
}

/** [what, target, pass (null: a figure for reference)] lines from the measured targets (by key). */
export function inspectorChecks(by) {
  // The traffic inspector: recording on (our preview URL) against off (the same service, inspect:
  // false), beside the floor: what the minimal proxy pays as the least recorder (both headers
  // copied, a copy of the body read, an entry kept in a ring of 200; test/fixtures/minimal-proxy).
  const pair = (on, off, floorOn, floorOff) => ({ on: by[on], off: by[off], floorOn: by[floorOn], floorOff: by[floorOff] });
  const fixed = pair('ours-workerd', 'quiet-workerd', 'minimalrecord-workerd', 'minimal-workerd');
  const chunked = pair('ourschunked-workerd', 'quietchunked-workerd', 'minimalrecordchunked-workerd', 'minimalchunked-workerd');
  const checks = [];
  for (const [label, p] of [
    ['answer with a Content-Length', fixed],
    ['chunked answer', chunked],
  ]) {
    const added = median(p.on.lat) - median(p.off.lat);
    const floorAdded = median(p.floorOn.lat) - median(p.floorOff.lat);
    // Measured back to back, pair by pair (preview.mjs): the median of those ratios.
    const ratio = pairedRatio(p.on.rpsTurns, p.off.rpsTurns);
    const floorRatio = pairedRatio(p.floorOn.rpsTurns, p.floorOff.rpsTurns);
    const cpu = median(p.on.cpuUs) - median(p.off.cpuUs);
    const floorCpu = median(p.floorOn.cpuUs) - median(p.floorOff.cpuUs);
    checks.push(
      [`${label}:`, '', null],
      [`  median GET ${fmt(median(p.on.lat))} recorded vs ${fmt(median(p.off.lat))} not: ${signed(added)} ms`, 'target ≤ +0.1 ms', added <= 0.1],
      [`    floor: the least recorder adds ${signed(floorAdded)} ms to the minimal proxy`, 'target: ours ≤ floor + 0.1 ms', added <= Math.max(0, floorAdded) + 0.1],
      [`  ${num(median(p.on.rpsTurns))} req/s recorded vs ${num(median(p.off.rpsTurns))} not, back to back: ${ratio.toFixed(2)}×`, 'target ≥ 0.95×', ratio >= 0.95],
      [`    floor: the minimal proxy as the least recorder serves ${floorRatio.toFixed(2)}× its own req/s`, 'target: ours ≥ 0.95 × floor', ratio >= 0.95 * Math.min(1, floorRatio)],
      [`  CPU per request: recording adds ${signed(cpu, 0)} µs; the floor's recorder adds ${signed(floorCpu, 0)} µs`, '(reference: steadier than timings)', null],
    );
  }
  // Echoed in turn, a message each (preview.mjs): the four sockets meet the same moments.
  const ws = median(fixed.on.wsTurns) / median(fixed.off.wsTurns);
  const floorWs = median(fixed.floorOn.wsTurns) / median(fixed.floorOff.wsTurns);
  checks.push(
    [`WebSocket echo ${fmt(median(fixed.on.wsTurns))} recorded vs ${fmt(median(fixed.off.wsTurns))} not, in turn: ${ws.toFixed(2)}×`, 'target ≤ 1.1× (unchanged)', ws <= 1.1],
    [`  floor: relaying messages one by one (to count them) in the minimal proxy: ${floorWs.toFixed(2)}×`, 'target: ours ≤ 1.1 × floor', ws <= 1.1 * Math.max(1, floorWs)],
  );
  return checks;
}

/**
 * Fills the inspector's records of `exposures` exposures (one small service on as many ports in
 * the bench sandbox) with 64 KiB POSTs, past what each keeps; answers the Worker's RSS around it.
 */
export async function fillRings(rt, exposures) {
  const ports = [];
  for (let i = 0; i < exposures; i++) ports.push(await freePort());
  const script = [
    'import http.server, threading, sys',
    'class H(http.server.BaseHTTPRequestHandler):',
    '    protocol_version = "HTTP/1.1"',
    '    def do_POST(self):',
    '        n = len(self.rfile.read(int(self.headers["content-length"])))',
    '        b = ("{\\"length\\": %d}" % n).encode()',
    '        self.send_response(200); self.send_header("content-type", "application/json"); self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)',
    '    def log_message(self, *a): pass',
    'for p in sys.argv[1:]:',
    '    threading.Thread(target=http.server.ThreadingHTTPServer(("0.0.0.0", int(p)), H).serve_forever).start()',
    'print("ring services ready", flush=True)',
  ].join('\n');
  await rt.api('PUT', `/sandboxes/${rt.box}/files?path=${encodeURIComponent('/workspace/rings.py')}`, Buffer.from(script));
  const proc = await rt.api('POST', `/sandboxes/${rt.box}/processes`, { command: `python3 -u rings.py ${ports.join(' ')}` });
  await rt.api('POST', `/sandboxes/${rt.box}/processes/${proc.id}/wait-for-log`, { pattern: 'ring services ready', timeout: 15000 });
  const urls = [];
  for (const port of ports) urls.push(new URL((await rt.api('POST', `/sandboxes/${rt.box}/ports`, { port, token: `ring${port}` })).url));
  const worker = rt.stack.worker;
  const before = groupRssMb(worker);
  const body = 'r'.repeat(64 * 1024);
  // 100 per exposure: past the 4 MiB each keeps (64 KiB bodies each way, about 60 entries).
  await Promise.all(
    urls.map(async (u) => {
      for (let i = 0; i < 100; i++) await postText(rt.stack.port, u.host, body);
    }),
  );
  const after = groupRssMb(worker);
  let kept = 0;
  for (const port of ports) kept += (await rt.api('GET', `/sandboxes/${rt.box}/ports/${port}/requests`)).requests.length;
  return { before, after, kept };
}

function postText(port, host, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/ring', headers: { host, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
