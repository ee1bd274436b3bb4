// Both Workers (the minimal proxy and ours) on plain `workerd serve`, without wrangler dev's proxy
// and Miniflare's entry worker: bundled with `wrangler deploy --dry-run --outdir`, SQLite Durable
// Objects on local disk, outbound network allowed to local addresses. One workerd process, two
// sockets. Our Worker uses the stack's container host, as under wrangler dev.
import fs from 'node:fs';
import path from 'node:path';
import { freePort, newToken, root } from '../../scripts/stack.mjs';
import { bundleWorker, spawnGroup, waitForHttp, workerdBin } from './procs.mjs';

const COMPAT_DATE = '2026-11-17';

export async function startPlainWorkerd({ dir, servicePort, stack, log }) {
  const bin = workerdBin();
  if (!bin) throw new Error('the workerd package is not installed');
  fs.mkdirSync(dir, { recursive: true });
  const minimalDir = bundleWorker(path.join(root, 'test/fixtures/minimal-proxy/wrangler.jsonc'), path.join(dir, 'minimal'));
  const oursDir = bundleWorker(path.join(root, 'worker/wrangler.jsonc'), path.join(dir, 'ours'));
  for (const d of ['minimal-do', 'ours-do']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const minimalPort = await freePort();
  const oursPort = await freePort();
  const token = newToken();
  const text = (s) => JSON.stringify(String(s));

  const capnp = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "minimal", worker = .minimal),
    (name = "ours", worker = .ours),
    (name = "local-net", network = (allow = ["local", "private", "public"])),
    (name = "minimal-do", disk = (path = ${text(path.join(dir, 'minimal-do'))}, writable = true)),
    (name = "ours-do", disk = (path = ${text(path.join(dir, 'ours-do'))}, writable = true)),
  ],
  sockets = [
    (name = "minimal", address = "127.0.0.1:${minimalPort}", http = (), service = "minimal"),
    (name = "ours", address = "127.0.0.1:${oursPort}", http = (), service = "ours"),
  ],
);

const minimal :Workerd.Worker = (
  # capnp resolves an absolute embed path against its import path, not /: embeds are relative.
  modules = [(name = "index.js", esModule = embed ${text(path.relative(dir, path.join(minimalDir, "index.js")))})],
  compatibilityDate = "${COMPAT_DATE}",
  bindings = [
    (name = "SERVICE_PORT", text = ${text(servicePort)}),
    (name = "PROXY", durableObjectNamespace = "Proxy"),
  ],
  durableObjectNamespaces = [(className = "Proxy", uniqueKey = "bench-minimal-proxy", enableSql = true)],
  durableObjectStorage = (localDisk = "minimal-do"),
  globalOutbound = "local-net",
);

const ours :Workerd.Worker = (
  modules = [(name = "index.js", esModule = embed ${text(path.relative(dir, path.join(oursDir, "index.js")))})],
  compatibilityDate = "${COMPAT_DATE}",
  bindings = [
    (name = "Sandbox", durableObjectNamespace = "Sandbox"),
    (name = "Registry", durableObjectNamespace = "Registry"),
    (name = "LOCAL_CONTAINER_HOST", text = ${text(stack.hostUrl)}),
    (name = "SANDBOX_API_TOKEN", text = ${text(token)}),
    (name = "LOCAL_HOST_SECRET", text = ${text(stack.hostSecret)}),
    (name = "PREVIEW_HOSTNAME", text = ${text(`localhost:${oursPort}`)}),
    ${process.platform === 'linux' && process.env.BENCH_NO_BIND_CHECK !== '1' ? '(name = "LOCAL_BIND_CHECK", text = "127.0.0.2"),' : ''}
  ],
  durableObjectNamespaces = [
    (className = "Sandbox", uniqueKey = "bench-ours-Sandbox", enableSql = true),
    (className = "Registry", uniqueKey = "bench-ours-Registry", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "ours-do"),
  globalOutbound = "local-net",
);
`;
  const confPath = path.join(dir, 'config.capnp');
  fs.writeFileSync(confPath, capnp);
  const child = spawnGroup(bin, ['serve', confPath, '--experimental'], { log });
  // workerd prints nothing when ready: the sockets answering is the readiness check.
  await Promise.all([
    waitForHttp(`http://127.0.0.1:${oursPort}/api/v1/health`, 20000, child, 'plain workerd (our Worker)'),
    waitForHttp(`http://127.0.0.1:${minimalPort}/`, 20000, child, 'plain workerd (minimal proxy)'),
  ]);
  return {
    child,
    minimal: { port: minimalPort, url: `http://127.0.0.1:${minimalPort}` },
    ours: { port: oursPort, url: `http://127.0.0.1:${oursPort}`, token },
  };
}
