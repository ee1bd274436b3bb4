// Starts and stops the local stack: the local container host and the Worker — on plain `workerd`
// (what `npm start` runs) or under `wrangler dev` (`npm run dev`, which reloads on edits) — each in
// its own process group so that stopping them leaves nothing behind. Used by `npm start`,
// `npm run dev`, the end-to-end tests and the benchmarks.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { nodeBinary } from './node-runtime.mjs';
import { bundleWorker, wranglerBin, wranglerEnv } from './worker-bundle.mjs';
import { parseJsonc, withBindings, workerFromWrangler, workerdConfig } from './workerd-config.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
export { nodeBinary };

export const WORKER_CONFIG = path.join(root, 'worker', 'wrangler.jsonc');

/**
 * True when this is the installed local-runtime package (scripts/pack-local.mjs made it), not a
 * checkout: the Worker bundle ships prebuilt (no wrangler, no worker/ sources), and state lives in
 * ~/.sandbox-ports instead of inside the package.
 */
export const packaged = fs.existsSync(path.join(root, 'dist', 'worker', 'PREBUILT'));

/** Where `npm start` keeps its state, local.json and server.pid unless SANDBOX_PORTS_HOME says. */
export function defaultHome() {
  return packaged ? path.join(os.homedir(), '.sandbox-ports') : path.join(root, '.sandbox-ports');
}

/** The workerd binary wrangler brings (the `workerd` package resolves its platform's build). */
export function workerdBinary() {
  return require('workerd').default;
}

/**
 * Bundles a Worker (ours unless `config` names another, such as a user Worker importing the SDK)
 * when stale, the way `wrangler deploy` would; answers its main module.
 */
export function workerBundle(config = WORKER_CONFIG) {
  if (packaged && config === WORKER_CONFIG) return path.join(root, 'dist', 'worker', 'index.js');
  const outdir = config === WORKER_CONFIG ? path.join(root, 'dist', 'worker') : path.join(root, 'dist', 'bundles', path.basename(path.dirname(config)));
  const inputs = [path.dirname(config), path.join(root, 'worker'), path.join(root, 'package-lock.json')];
  return bundleWorker({ config, outdir, inputs });
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

/** Rejects with a plain message when something already listens on 127.0.0.1:port. */
export function ensurePortFree(port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} on 127.0.0.1 is already in use (another npm start?); stop it, or set SANDBOX_PORTS_PORT to another port`
            : `cannot listen on 127.0.0.1:${port}: ${err.message}`,
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
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

/** The Worker's settings for this stack, beyond wrangler.jsonc's vars (the same under both runtimes). */
function workerVars(options, stack) {
  const vars = { LOCAL_CONTAINER_HOST: stack.hostUrl };
  // Linux answers on all of 127.0.0.0/8, which lets the proxy tell 0.0.0.0 from 127.0.0.1 binds.
  if (process.platform === 'linux') vars.LOCAL_BIND_CHECK = '127.0.0.2';
  if (options.ticketTtlMs) vars.PREVIEW_TICKET_TTL_MS = String(options.ticketTtlMs);
  // SANDBOX_INSPECT=off npm start: the traffic inspector records nothing.
  const inspect = options.env?.SANDBOX_INSPECT ?? process.env.SANDBOX_INSPECT;
  if (inspect === 'off') vars.SANDBOX_INSPECT = 'off';
  if (options.previewHostname) vars.PREVIEW_HOSTNAME = options.previewHostname;
  else if (stack.port !== 8787) vars.PREVIEW_HOSTNAME = `localhost:${stack.port}`;
  return vars;
}

/** Secrets the Worker reads; never on a command line or in a config file. */
const workerSecrets = (stack) => ({ SANDBOX_API_TOKEN: stack.token, LOCAL_HOST_SECRET: stack.hostSecret });

/**
 * Plain workerd serving the bundle `wrangler deploy` would ship, from a generated config. Durable
 * Objects persist in the same folder and under the same keys as `wrangler dev --persist-to`, so
 * both runtimes see the same sandboxes.
 */
function spawnWorkerd(options, stack, env) {
  const dir = path.join(stack.stateDir, 'workerd');
  fs.mkdirSync(dir, { recursive: true });
  const storageDir = path.join(stack.stateDir, 'wrangler', 'v3', 'do');
  fs.mkdirSync(storageDir, { recursive: true });
  const base = workerFromWrangler(parseJsonc(fs.readFileSync(stack.config, 'utf8')));
  const secrets = workerSecrets(stack);
  const worker = withBindings(base, [
    ...Object.entries(workerVars(options, stack)).map(([name, text]) => ({ name, text })),
    ...Object.keys(secrets).map((name) => ({ name, fromEnvironment: name })),
  ]);
  const configPath = path.join(dir, 'config.capnp');
  fs.writeFileSync(
    configPath,
    workerdConfig({ configDir: dir, workers: [{ key: 'sandboxPorts', worker, modulePath: stack.bundle, address: `127.0.0.1:${stack.port}`, storageDir }] }),
  );
  // Only what workerd needs: the secrets, and nothing of the caller's environment to leak into logs.
  const args = ['serve', configPath, '--experimental', ...(options.verbose ? ['--verbose'] : [])];
  // `wrap`: a command workerd runs under (bench:instructions counts its instructions with valgrind).
  const [command, ...prefix] = [...(options.wrap ?? []), workerdBinary()];
  return spawn(command, [...prefix, ...args], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: env.PATH ?? '/usr/bin:/bin', ...secrets },
  });
}

/** `wrangler dev` with this stack's state, token and host: reloads the Worker when worker/ changes. */
async function spawnWranglerDev(options, stack, env) {
  const inspectorPort = await freePort();
  // Secrets reach wrangler through a file only its owner can read, not on a command line that
  // every local user can list.
  const secretsFile = path.join(stack.stateDir, 'worker-secrets.env');
  const secrets = workerSecrets(stack);
  fs.writeFileSync(
    secretsFile,
    Object.entries(secrets)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  const args = [
    wranglerBin(),
    'dev',
    '-c',
    stack.config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(stack.port),
    '--inspector-port',
    String(inspectorPort),
    '--persist-to',
    path.join(stack.stateDir, 'wrangler'),
    ...Object.entries(workerVars(options, stack)).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    '--env-file',
    secretsFile,
    '--show-interactive-dev-session=false',
    '--log-level',
    options.logLevel ?? 'warn',
  ];
  return spawn(nodeBinary(), args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: wranglerEnv(env) });
}

/**
 * Starts the stack. Options: runtime ('workerd', the default, or 'wrangler'), port (Worker,
 * default a free one), config (a wrangler.jsonc; ours by default), stateDir (persistence), token
 * (control API), log (a writable for every program's output), hostPort, env (for the container
 * host; SANDBOX_INSPECT=off there, or in this process's environment, turns the traffic inspector
 * off), ticketTtlMs, previewHostname, logLevel (wrangler), verbose (workerd), wrap (a command
 * workerd runs under, as [program, ...args]) and readyTimeoutMs (how long it may take to answer).
 */
export async function startStack(options = {}) {
  const runtime = options.runtime ?? 'workerd';
  if (runtime !== 'workerd' && runtime !== 'wrangler') throw new Error(`unknown runtime ${runtime}: use workerd or wrangler`);
  const stateDir = path.resolve(options.stateDir ?? path.join(defaultHome(), 'state'));
  fs.mkdirSync(stateDir, { recursive: true });
  const port = options.port ?? (await freePort());
  // Otherwise the readiness check could be answered by whatever already holds the port.
  await ensurePortFree(port);
  const token = options.token ?? newToken();
  // The container host and agents need Node 20; only wrangler needs newer, and the package has none.
  const node = packaged ? process.execPath : nodeBinary();
  const log = options.log ?? null;
  const env = { ...process.env, ...(options.env ?? {}) };
  // Before anything starts: a Worker that does not bundle should fail fast, with nothing to stop.
  const config = path.resolve(options.config ?? WORKER_CONFIG);
  const bundle = runtime === 'workerd' ? workerBundle(config) : null;

  // The door between the Worker and the container host: a secret for this run only, which the
  // host requires on every request (so no web page or other program can drive it).
  const hostSecret = newToken();
  const host = spawn(node, [path.join(root, 'dist', 'container-host.js')], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, SANDBOX_HOST_PORT: String(options.hostPort ?? 0), SANDBOX_STATE_DIR: stateDir, SANDBOX_HOST_SECRET: hostSecret },
  });
  const stack = { url: `http://127.0.0.1:${port}`, port, token, stateDir, host, hostSecret, runtime, config, bundle, worker: null, hostUrl: null };

  async function startWorker() {
    stack.worker = runtime === 'workerd' ? spawnWorkerd(options, stack, env) : await spawnWranglerDev(options, stack, env);
    if (log) {
      stack.worker.stdout.pipe(log, { end: false });
      stack.worker.stderr.pipe(log, { end: false });
    }
    let tail = '';
    const keep = (buf) => (tail = (tail + buf.toString()).slice(-4000));
    stack.worker.stdout.on('data', keep);
    stack.worker.stderr.on('data', keep);
    // Neither runtime says reliably when it is ready (workerd prints nothing, wrangler's log level
    // may hide "Ready on"): the health route answering is the readiness check.
    try {
      await waitForHealth(stack.url, options.readyTimeoutMs ?? 60000, stack.worker);
    } catch (err) {
      throw new Error(`${err.message}${tail ? `\n${tail}` : ''}`, { cause: err });
    } finally {
      stack.worker.stdout.off('data', keep);
      stack.worker.stderr.off('data', keep);
    }
  }

  stack.stop = async () => {
    await Promise.all([stopChild(stack.worker, 5000), stopChild(host, 5000)]);
    fs.rmSync(path.join(stateDir, 'worker-secrets.env'), { force: true });
  };
  try {
    if (log) {
      host.stdout.pipe(log, { end: false });
      host.stderr.pipe(log, { end: false });
    }
    const [, hostPort] = await waitForOutput(host, /container host listening on (\d+)/, 15000, 'the local container host');
    stack.hostUrl = `http://127.0.0.1:${hostPort}`;

    // Tests stop the Worker for a while (the extension shows the outage) and start it again.
    stack.stopWorker = () => stopChild(stack.worker, 5000);
    stack.startWorker = async () => {
      await ensurePortFree(port);
      await startWorker();
    };
    stack.restartWorker = async () => {
      await stack.stopWorker();
      await stack.startWorker();
    };
    await startWorker();
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

async function waitForHealth(url, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`the Worker's runtime exited (${child.signalCode ?? child.exitCode}) before it answered ${url}/api/v1/health`);
    }
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
