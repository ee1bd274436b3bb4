// The benchmarks' floor for any design with a Durable Object hop: the minimal Worker → Durable
// Object → fetch proxy (test/fixtures/minimal-proxy), on the same runtime as the stack it is
// compared with. On plain workerd it runs from a config built by the same code as `npm start`'s
// (scripts/workerd-config.mjs); under wrangler dev, as `npm run dev` runs ours.
import fs from 'node:fs';
import path from 'node:path';
import { freePort, root, workerdBinary } from '../../scripts/stack.mjs';
import { bundleWorker } from '../../scripts/worker-bundle.mjs';
import { parseJsonc, withBindings, workerFromWrangler, workerdConfig } from '../../scripts/workerd-config.mjs';
import { spawnGroup, startWranglerDev, waitForHttp } from './procs.mjs';

const CONFIG = path.join(root, 'test/fixtures/minimal-proxy/wrangler.jsonc');

/**
 * Starts the minimal proxy in front of 127.0.0.1:servicePort. Answers { url, port, child, name }.
 * `wrap`: a command plain workerd runs under (as startStack's), `readyTimeoutMs` its time to answer.
 */
export async function startMinimalProxy({ runtime = 'workerd', dir, servicePort, log, wrap = [], readyTimeoutMs = 20000 }) {
  fs.mkdirSync(dir, { recursive: true });
  if (runtime === 'wrangler') {
    const r = await startWranglerDev({ config: CONFIG, vars: { SERVICE_PORT: String(servicePort) }, persistTo: path.join(dir, 'state'), log });
    return { ...r, name: 'wrangler dev' };
  }
  const modulePath = bundleWorker({ config: CONFIG, outdir: path.join(dir, 'bundle') });
  const worker = withBindings(workerFromWrangler(parseJsonc(fs.readFileSync(CONFIG, 'utf8'))), [{ name: 'SERVICE_PORT', text: String(servicePort) }]);
  const port = await freePort();
  const storageDir = path.join(dir, 'do');
  fs.mkdirSync(storageDir, { recursive: true });
  const configPath = path.join(dir, 'config.capnp');
  fs.writeFileSync(configPath, workerdConfig({ configDir: dir, workers: [{ key: 'minimal', worker, modulePath, address: `127.0.0.1:${port}`, storageDir }] }));
  const [command, ...prefix] = [...wrap, workerdBinary()];
  const child = spawnGroup(command, [...prefix, 'serve', configPath, '--experimental'], { log, cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  // workerd prints nothing when ready: the proxy answering (from the service) is the check.
  await waitForHttp(`${url}/`, readyTimeoutMs, child, 'the minimal proxy on plain workerd');
  return { url, port, child, name: 'plain workerd' };
}
