// `npm start`: the local stack on http://127.0.0.1:8787 with no Docker and no Cloudflare account,
// the Worker on plain workerd. `npm run dev` (this script with --dev) runs it under `wrangler dev`
// instead, which reloads the Worker when a file under worker/ changes. Prints the URL and the
// control-API token, writes them to .sandbox-ports/local.json for the extension, and stops every
// process it started on Ctrl-C.
import fs from 'node:fs';
import path from 'node:path';
import { defaultHome, packaged, startStack } from './stack.mjs';

// SANDBOX_PORTS_PORT and SANDBOX_PORTS_HOME let a second stack run beside yours (the extension's
// tests use them); by default it is 127.0.0.1:8787 with its state in .sandbox-ports/ (in a
// checkout) or ~/.sandbox-ports (the installed local-runtime package).
const port = Number(process.env.SANDBOX_PORTS_PORT ?? 8787);
const dir = process.env.SANDBOX_PORTS_HOME ? path.resolve(process.env.SANDBOX_PORTS_HOME) : defaultHome();
fs.mkdirSync(dir, { recursive: true });
const token = process.env.SANDBOX_API_TOKEN || readSavedToken() || undefined;

const dev = process.argv.includes('--dev');
if (dev && packaged) {
  console.error('--dev reloads the Worker from its sources, which only a checkout of Sandbox Ports has: run npm run dev there.');
  process.exit(2);
}
const stack = await startStack({ runtime: dev ? 'wrangler' : 'workerd', port, token, stateDir: path.join(dir, 'state'), log: process.stdout, logLevel: 'info' }).catch((err) => {
  console.error(`Could not start the local stack: ${err.message}`);
  process.exit(1);
});
// Who to SIGTERM to stop this stack from outside (Ctrl-C does the same).
fs.writeFileSync(path.join(dir, 'server.pid'), `${process.pid}\n`);
fs.writeFileSync(path.join(dir, 'local.json'), JSON.stringify({ url: stack.url, token: stack.token }, null, 2) + '\n', { mode: 0o600 });

console.log(`
Sandbox Ports is running (${dev ? 'wrangler dev: the Worker reloads when worker/ changes' : 'the Worker on workerd'}).
  Control API : ${stack.url}/api/v1   (token below; also in ${path.join(dir, 'local.json')})
  Token       : ${stack.token}
  Preview URLs: http://{port}-{sandbox}-{token}.localhost:${port}/
  Sandboxes   : ${await describeSandboxes(stack.url)}
Press Ctrl-C to stop.
`);

/** How sandboxes run here, from the Worker's health: `isolated (namespaces) · limited (cgroup1) · standard-1 unless asked`. */
async function describeSandboxes(url) {
  try {
    const h = await (await fetch(`${url}/api/v1/health`)).json();
    const isolation = h.isolation === 'none' ? 'NOT isolated' : `isolated (${h.isolation})`;
    const limits = h.limits === 'none' ? 'NO limits' : `limited (${h.limits})`;
    return `${isolation} · ${limits} · instance type ${h.instanceType} unless created with another`;
  } catch (err) {
    return `unknown (${err.message})`;
  }
}

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping the Worker, the container host and every sandbox process...');
  await stack.stop();
  fs.rmSync(path.join(dir, 'server.pid'), { force: true });
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
process.on('SIGHUP', shutdown);

function readSavedToken() {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'local.json'), 'utf8')).token;
  } catch {
    return null;
  }
}
