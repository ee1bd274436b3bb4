/**
 * Runs test/vscode/suite inside a real VS Code extension host: starts the local stack and the
 * VS Code server, opens the workbench in headless Chromium with this folder as the extension in
 * development and the bundled suite as the test entry, prints the suite's report and exits with
 * its result. A small bridge lets the suite ask the browser what the Simple Browser shows.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import { frameTexts, openBrowser, startWorkbench, workbenchUrl } from '../helpers/workbench';
import { FAKE_CLOUDFLARED, hostState, logFile, newStack, stopAllStacks } from '../helpers/stack';
// @ts-expect-error plain ESM module without types
import { freePort, root } from '../../scripts/stack.mjs';
// @ts-expect-error plain ESM module without types
import { packForVsix } from '../../scripts/pack-local.mjs';

const outDir = path.join(root as string, 'test-output', 'vscode');
const TIMEOUT_MS = 5 * 60_000;

/** A local server the suite started and did not stop (a failed test) is stopped here. */
async function stopLocalServer(home: string): Promise<void> {
  const pidFile = path.join(home, 'server.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(home, { recursive: true, force: true });
}

async function main(): Promise<number> {
  fs.mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const suite = path.join(outDir, 'suite.js');
  await build({
    entryPoints: [path.join(root, 'test/vscode/suite/index.ts')],
    outfile: suite,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });

  // Agents run the stand-in cloudflared: tunnels work without the internet.
  const stack = await newStack({ env: { SANDBOX_CLOUDFLARED: FAKE_CLOUDFLARED } });
  const session = await openBrowser();
  const { page } = session;
  const bridge = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (url.pathname === '/frames') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(await frameTexts(page)));
      } else if (url.pathname === '/restart-worker' || url.pathname === '/stop-worker' || url.pathname === '/start-worker') {
        // The suite checks what the extension shows while the Worker is down, and that it comes back.
        const control = stack as unknown as Record<'restartWorker' | 'stopWorker' | 'startWorker', () => Promise<void>>;
        await control[url.pathname === '/restart-worker' ? 'restartWorker' : url.pathname === '/stop-worker' ? 'stopWorker' : 'startWorker']();
        res.end('ok');
      } else if (url.pathname === '/kill-agent') {
        // A container restart: generated preview tokens rotate, the extension's custom ones stay.
        const { pid } = await hostState(stack, url.searchParams.get('id') ?? '');
        process.kill(pid!, 'SIGKILL');
        res.end('ok');
      } else if (url.pathname === '/screenshot') {
        const name = (url.searchParams.get('name') ?? 'shot').replace(/[^\w-]/g, '');
        await page.screenshot({ path: path.join(outDir, `${name}.png`) });
        res.end('ok');
      } else {
        res.statusCode = 404;
        res.end();
      }
    } catch (err) {
      res.statusCode = 500;
      res.end(String(err));
    }
  });
  await new Promise<void>((r) => bridge.listen(0, '127.0.0.1', () => r()));
  const bridgeUrl = `http://127.0.0.1:${(bridge.address() as { port: number }).port}`;
  const servicePort = (await freePort()) as number;
  // Start Local Server runs this checkout's `npm start` on a port and state folder of its own.
  const localServerPort = (await freePort()) as number;
  const localServerHome = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ports-local-'));
  // The local runtime as the extension carries it (dist/local/, as in a .vsix): Start Local Server
  // finds it there by itself, and npm exec installs it as for a person without a checkout.
  (packForVsix as () => string)();

  const wb = await startWorkbench({
    env: {
      SANDBOX_PORTS_TEST_URL: stack.url,
      SANDBOX_PORTS_TEST_TOKEN: stack.token,
      SANDBOX_PORTS_TEST_BRIDGE: bridgeUrl,
      SANDBOX_PORTS_TEST_PORT: String(servicePort),
      SANDBOX_PORTS_PORT: String(localServerPort),
      SANDBOX_PORTS_HOME: localServerHome,
    },
    // VS Code's own port auto-forwarding is off: past 20 ports it rewrites the user settings file.
    settings: {
      'sandboxPorts.onPortDetected': 'silent',
      'sandboxPorts.autoConnect': false,
      'sandboxPorts.localServer.folder': root,
      'remote.autoForwardPorts': false,
    },
    log: logFile('vscode-server'),
  });
  let exit: (code: number) => void;
  const exited = new Promise<number>((r) => (exit = r));
  await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
    const line = format(...(Array.isArray(args) ? args : [args]));
    if (type === 'error') process.stderr.write(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  });
  await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
  const timer = setTimeout(() => {
    console.error(`the suite did not finish within ${TIMEOUT_MS / 1000} s`);
    exit(1);
  }, TIMEOUT_MS);
  let code: number;
  try {
    await page.goto(
      workbenchUrl(wb, [
        ['extensionDevelopmentPath', root as string],
        ['extensionTestsPath', suite],
      ]),
    );
    code = await exited;
  } finally {
    clearTimeout(timer);
    await page.screenshot({ path: path.join(outDir, 'final.png') }).catch(() => {});
    await session.close().catch(() => {});
    await wb.stop();
    bridge.close();
    await stopAllStacks();
    await stopLocalServer(localServerHome);
  }
  console.log(`VS Code integration suite: exit ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
