// Process helpers for the benchmarks: every child runs in its own process group, is remembered,
// and is stopped by its group id (`kill -- -PGID`) at the end, on error and on Ctrl-C.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, nodeBinary, root, waitForOutput } from '../../scripts/stack.mjs';
import { wranglerBin, wranglerEnv } from '../../scripts/worker-bundle.mjs';

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

/**
 * Starts `wrangler dev` for `config` the way scripts/stack.mjs does (Node >= 22, non-interactive,
 * fresh persistence, own process group). Answers { url, port, child }.
 */
export async function startWranglerDev({ config, vars = {}, persistTo, log, readyPath = '/' }) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    wranglerBin(),
    'dev',
    '-c',
    config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(inspectorPort),
    '--persist-to',
    persistTo,
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    '--show-interactive-dev-session=false',
    '--log-level',
    'warn',
  ];
  const child = spawnGroup(nodeBinary(), args, { env: wranglerEnv(), log });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}${readyPath}`, 60000, child, `wrangler dev (${path.relative(root, config)})`);
  return { url, port, child };
}

/**
 * Sums `measure(pid, statFields)` over the processes in `child`'s process group, from /proc
 * (Linux). The fields are those after the command's closing parenthesis: state ppid pgrp …
 */
function sumOverGroup(child, measure) {
  let total = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === child.pid) total += measure(pid, fields);
    } catch {
      /* the process ended while we looked */
    }
  }
  return total;
}

/** Resident memory (MB) of every process in `child`'s process group. */
export function groupRssMb(child) {
  const kb = sumOverGroup(child, (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0));
  return kb / 1024;
}

/** CPU time (user + system, ms) of a process group's processes so far (clock ticks of 10 ms). */
export function groupCpuMs(child) {
  return sumOverGroup(child, (_pid, fields) => Number(fields[11]) + Number(fields[12])) * 10;
}
