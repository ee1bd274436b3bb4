// Process helpers for the benchmarks: every child runs in its own process group, is remembered,
// and is stopped by its group id (`kill -- -PGID`) at the end, on error and on Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { freePort, nodeBinary, root, waitForOutput } from '../../scripts/stack.mjs';

const require = createRequire(import.meta.url);
const children = new Set();

/** Spawns `cmd` in a new process group; its output goes to `log` (a writable) when given. */
export function spawnGroup(cmd, args, options = {}) {
  const child = spawn(cmd, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (options.log) {
    child.stdout.pipe(options.log, { end: false });
    child.stderr.pipe(options.log, { end: false });
  }
  return child;
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGTERM to the group, SIGKILL after `graceMs`, then SIGKILL to whatever the group still holds. */
export async function stopGroup(child, graceMs = 3000) {
  if (!child) return;
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
    clearTimeout(timer);
  }
  signalGroup(child, 'SIGKILL');
  children.delete(child);
}

export async function stopAll() {
  await Promise.all([...children].map((c) => stopGroup(c)));
}

// A synchronous last resort, for process exit paths that cannot await.
process.on('exit', () => {
  for (const c of children) signalGroup(c, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping everything the benchmark started`);
    stopAll().finally(() => process.exit(130));
  });
}

export { waitForOutput };

/** Polls `url` until it answers 2xx. */
export async function waitForHttp(url, timeoutMs, child, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${what} exited before it answered ${url}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
      last = new Error(`answered ${res.status}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms: ${last?.message}`);
}

export function wranglerBin() {
  return path.join(path.dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js');
}

export const wranglerEnv = () => ({ ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG_SANITIZE: 'true', NO_COLOR: '1' });

/**
 * Starts `wrangler dev` for `config` the way scripts/stack.mjs does (Node >= 22, non-interactive,
 * fresh persistence, own process group). Answers { url, port, child }.
 */
export async function startWranglerDev({ config, vars = {}, persistTo, log, readyPath = '/' }) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    wranglerBin(), 'dev', '-c', config,
    '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', persistTo,
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    '--show-interactive-dev-session=false', '--log-level', 'warn',
  ];
  const child = spawnGroup(nodeBinary(), args, { env: wranglerEnv(), log });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}${readyPath}`, 60000, child, `wrangler dev (${path.relative(root, config)})`);
  return { url, port, child };
}

/** Bundles a Worker the way `wrangler deploy` would, without deploying. Answers the output folder. */
export function bundleWorker(config, outdir) {
  const r = spawnSync(nodeBinary(), [wranglerBin(), 'deploy', '--dry-run', '--outdir', outdir, '-c', config], {
    cwd: root,
    env: wranglerEnv(),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`wrangler deploy --dry-run failed for ${config}:\n${r.stdout}\n${r.stderr}`);
  return outdir;
}

export function workerdBin() {
  const bin = path.join(path.dirname(require.resolve('workerd/package.json')), 'bin', 'workerd');
  return fs.existsSync(bin) ? bin : null;
}
