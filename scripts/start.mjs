// `npm start`: the local stack on http://127.0.0.1:8787 with no Docker and no Cloudflare account.
// Prints the URL and the control-API token, writes them to .sandbox-ports/local.json for the
// extension, and stops every process it started on Ctrl-C.
import fs from 'node:fs';
import path from 'node:path';
import { root, startStack } from './stack.mjs';

const port = Number(process.env.PORT ?? 8787);
const dir = path.join(root, '.sandbox-ports');
fs.mkdirSync(dir, { recursive: true });
const token = process.env.SANDBOX_API_TOKEN || readSavedToken() || undefined;

const stack = await startStack({ port, token, stateDir: path.join(dir, 'state'), log: process.stdout, logLevel: 'info' }).catch((err) => {
  console.error(`Could not start the local stack: ${err.message}`);
  process.exit(1);
});
fs.writeFileSync(path.join(dir, 'local.json'), JSON.stringify({ url: stack.url, token: stack.token }, null, 2) + '\n', { mode: 0o600 });

console.log(`
Sandbox Ports is running.
  Control API : ${stack.url}/api/v1   (token below; also in .sandbox-ports/local.json)
  Token       : ${stack.token}
  Preview URLs: http://{port}-{sandbox}-{token}.localhost:${port}/
Press Ctrl-C to stop.
`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping the Worker, the container host and every sandbox process...');
  await stack.stop();
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
