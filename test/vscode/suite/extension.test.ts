/**
 * Inside a real VS Code extension host, against the real local stack (workerd and agents, as
 * `npm start` runs it):
 * the user's path from connecting to killing a process, through the extension's commands, with
 * the view's nodes, the status bar, the clipboard, the Simple Browser and the output channel
 * checked as a user would see them.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { SandboxPortsApi } from '../../../extension/extension';
import { walk, type TreeNode } from '../../../extension/core/tree-model';
import type { ExposedPort, ProcessInfo, TunnelInfo } from '../../../worker/protocol/index';
import { httpFetch } from '../../../extension/http-fetch';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through test/vscode/run.ts)`);
  return v;
};
const URL_ = env('SANDBOX_PORTS_TEST_URL');
const TOKEN = env('SANDBOX_PORTS_TEST_TOKEN');
const BRIDGE = env('SANDBOX_PORTS_TEST_BRIDGE');
const PORT = Number(env('SANDBOX_PORTS_TEST_PORT'));
const MARKER = `served-by-sandbox-${Date.now().toString(36)}`;

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Sandbox Ports extension (real VS Code, real local stack)', function () {
  let api: SandboxPortsApi;
  const sandboxId = `vs-${Date.now().toString(36)}`;
  let processInfo: ProcessInfo;
  let exposed: ExposedPort;
  const node = (id: string): TreeNode | undefined => walk(api.ctx.tree.nodes).find((n) => n.id === id);

  before(async function () {
    const ext = vscode.extensions.getExtension<SandboxPortsApi>('sandbox-ports.sandbox-ports');
    assert.ok(ext, 'the extension is installed in the development host');
    api = await ext.activate();
    assert.ok(api?.ctx, 'activate() answered the API');
  });

  after(async function () {
    if (api?.ctx.connection) await vscode.commands.executeCommand('sandboxPorts.destroySandbox', { sandboxId }, true);
  });

  describe('commands', () => {
    it('registers every command the manifest declares', async () => {
      const declared = (vscode.extensions.getExtension('sandbox-ports.sandbox-ports')!.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
      const registered = new Set(await vscode.commands.getCommands(true));
      assert.deepEqual(declared.filter((c) => !registered.has(c)), []);
    });
  });

  describe('a session', () => {
    it('connects with a URL and token', async () => {
      await vscode.commands.executeCommand('sandboxPorts.connect', URL_, TOKEN);
      assert.ok(api.ctx.connection, 'connected');
      await waitFor('the event stream', () => api.ctx.connection?.connected);
    });

    it('creates a sandbox that appears in the tree as running', async () => {
      await vscode.commands.executeCommand('sandboxPorts.createSandbox', sandboxId);
      // It may show 'stopped' for a moment (created, then its container starts): wait for running.
      const n = await waitFor('the sandbox node, running', () => {
        const found = node(`sandbox/${sandboxId}`);
        return found?.contextValue === 'sandbox;running;' && found;
      });
      assert.equal(n.contextValue, 'sandbox;running;');
    });

    it('starts a process whose node shows it running', async () => {
      const command = `echo hello-from-sandbox; mkdir -p site; echo ${MARKER} > site/index.html; cd site && exec python3 -u -m http.server ${PORT} --bind 0.0.0.0`;
      processInfo = (await vscode.commands.executeCommand('sandboxPorts.startProcess', { sandboxId }, command)) as ProcessInfo;
      assert.ok(processInfo?.id, 'startProcess answered the process');
      const n = await waitFor('the process node', () => node(`${sandboxId}/process/${processInfo.id}`));
      assert.equal(n.contextValue, 'process;running;running;');
      assert.match(n.description ?? '', /^pid \d+ · \d+s$/);
    });

    it('shows the port the process listens on, detected, under the process', async () => {
      const n = await waitFor('the detected port under the process', () => node(`${sandboxId}/process/${processInfo.id}/port/${PORT}`), 30_000);
      assert.equal(n.contextValue, 'detectedPort;');
      assert.ok(node(`${sandboxId}/detected/${PORT}`), 'also listed as detected under the sandbox');
    });

    it('exposes the port with the command, and the URL shows in the tree and the status bar', async () => {
      exposed = (await vscode.commands.executeCommand('sandboxPorts.exposePort', { sandboxId, processId: processInfo.id, port: PORT }, { name: 'site', open: true })) as ExposedPort;
      assert.ok(exposed?.url, 'exposePort answered the URL');
      assert.match(exposed.url, new RegExp(`^http://${PORT}-${sandboxId}-[a-z0-9]{16}\\.localhost:\\d+/$`));
      const n = await waitFor('the exposed port node', () => node(`${sandboxId}/port/${PORT}`));
      assert.equal(n.label, 'site');
      assert.equal(n.description, exposed.url);
      assert.match(n.contextValue, /;exposed;public;/);
      assert.equal(node(`${sandboxId}/detected/${PORT}`), undefined, 'no longer listed as detected only');
      assert.ok(api.ctx.statusBar.text.includes(exposed.url), `status bar shows ${api.ctx.statusBar.text}`);
    });

    it('copies the URL to the clipboard', async () => {
      await vscode.env.clipboard.writeText('something else');
      await vscode.commands.executeCommand('sandboxPorts.copyUrl', { sandboxId, port: PORT, url: exposed.url });
      assert.equal(await vscode.env.clipboard.readText(), exposed.url);
    });

    it('opened the served page in the Simple Browser once the port answered', async () => {
      await waitFor('a Simple Browser tab', () =>
        vscode.window.tabGroups.all.flatMap((g) => g.tabs).some((t) => t.input instanceof vscode.TabInputWebview && /simpleBrowser/i.test(t.input.viewType)),
      );
      const frames = await waitFor(
        'the page text in a frame',
        async () => {
          const res = await fetch(`${BRIDGE}/frames`);
          const all = (await res.json()) as { url: string; text: string }[];
          // The page's text in the frame that shows the preview URL (frames load one after another).
          return all.some((f) => f.text.includes(MARKER) && f.url.startsWith(`http://${PORT}-${sandboxId}-`)) && all;
        },
        30_000,
      );
      assert.ok(frames.some((f) => f.url.startsWith(`http://${PORT}-${sandboxId}-`)), 'the frame shows the preview URL');
      await fetch(`${BRIDGE}/screenshot?name=simple-browser`);
    });

    it('streams the process log into its output channel, live', async () => {
      await waitFor('the first line', () => api.ctx.logs.text(sandboxId, processInfo.id).includes('hello-from-sandbox'));
      // The Simple Browser's request was logged by the service after the channel opened.
      await waitFor('the request line', () => /"GET \/ HTTP\/1\.1" 200/.test(api.ctx.logs.text(sandboxId, processInfo.id)));
    });

    it('unexposes the port: the node and the status bar go, and the URL answers 404', async () => {
      await vscode.commands.executeCommand('sandboxPorts.unexposePort', { sandboxId, port: PORT });
      await waitFor('the port node to go', () => !node(`${sandboxId}/port/${PORT}`));
      assert.ok(node(`${sandboxId}/detected/${PORT}`), 'listed as detected again');
      assert.equal(api.ctx.statusBar.text, '');
      const res = await httpFetch(exposed.url);
      assert.equal(res.status, 404);
    });

    it('opens a private preview in the Simple Browser through a one-time ticket link', async () => {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const priv = (await vscode.commands.executeCommand('sandboxPorts.exposePort', { sandboxId, processId: processInfo.id, port: PORT }, { visibility: 'private', open: true })) as ExposedPort;
      assert.ok(priv?.url, 'exposePort answered the URL');
      const n = await waitFor('the private port node', () => node(`${sandboxId}/port/${PORT}`));
      assert.match(n.contextValue, /;exposed;private;/);
      assert.equal(n.icon.id, 'lock');
      assert.equal((await httpFetch(priv.url)).status, 401, 'the preview refuses a request without credentials');
      await waitFor(
        'the private page in a frame',
        async () => ((await (await fetch(`${BRIDGE}/frames`)).json()) as { url: string; text: string }[]).some((f) => f.text.includes(MARKER)),
        30_000,
      );
      await fetch(`${BRIDGE}/screenshot?name=private-preview`);
      await vscode.commands.executeCommand('sandboxPorts.unexposePort', { sandboxId, port: PORT });
    });

    it('creates a quick tunnel that shows in the tree, copies its URL, and destroys it', async () => {
      const tunnel = (await vscode.commands.executeCommand('sandboxPorts.createTunnel', { sandboxId, port: PORT })) as TunnelInfo;
      assert.match(tunnel?.url ?? '', /^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
      const n = await waitFor('the tunnel node', () => node(`${sandboxId}/tunnel/${PORT}`));
      assert.equal(n.contextValue, 'tunnel;up;');
      await vscode.env.clipboard.writeText('something else');
      await vscode.commands.executeCommand('sandboxPorts.copyTunnelUrl', { sandboxId, port: PORT });
      assert.equal(await vscode.env.clipboard.readText(), tunnel.url);
      await vscode.commands.executeCommand('sandboxPorts.destroyTunnel', { sandboxId, port: PORT });
      await waitFor('the tunnel node to go', () => !node(`${sandboxId}/tunnel/${PORT}`));
    });

    it('kills the process, and its icon shows it killed', async () => {
      await vscode.commands.executeCommand('sandboxPorts.killProcess', { sandboxId, processId: processInfo.id });
      const n = await waitFor('the killed process', () => {
        const x = node(`${sandboxId}/process/${processInfo.id}`);
        return x?.contextValue === 'process;exited;killed;' && x;
      });
      assert.deepEqual(n.icon, { id: 'circle-slash', color: 'disabledForeground' });
      await waitFor('the exit note in the channel', () => /\[process killed/.test(api.ctx.logs.text(sandboxId, processInfo.id)));
    });
  });

  describe('measurements (SPEC 5)', () => {
    // Timings are printed here and judged by `npm run bench:extension`, never asserted: the suite
    // must pass on a busy machine.
    it('reports activation time', () => {
      console.log(`      activation: ${api.activationMs} ms`);
      assert.ok(Number.isFinite(api.activationMs) && api.activationMs > 0, `activation took ${api.activationMs} ms`);
    });

    it('gets every printed log line into the output channel, live (latency printed)', async function () {
      this.timeout(60_000);
      const lines = 200;
      const latencies: number[] = [];
      const sub = api.ctx.logs.onDidAppend((e) => {
        for (const m of e.text.matchAll(/tick (\d+)/g)) latencies.push(e.at - Number(m[1]));
      });
      try {
        // Waits a second so the channel is streaming before the first timed line.
        const command = `python3 -u -c "import time; time.sleep(1); [(print('tick %d' % int(time.time() * 1000), flush=True), time.sleep(0.01)) for i in range(${lines})]"`;
        const p = (await vscode.commands.executeCommand('sandboxPorts.startProcess', { sandboxId }, command)) as ProcessInfo;
        assert.ok(p?.id);
        await waitFor('every timed line', () => latencies.length >= lines, 30_000);
      } finally {
        sub.dispose();
      }
      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
      console.log(`      log line → output channel over ${sorted.length} lines: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${sorted[sorted.length - 1]} ms`);
      assert.equal(sorted.length, lines, 'every line arrived');
    });
  });

  describe('a Worker restart', () => {
    it('reconnects, and the tree follows changes made after the restart', async function () {
      this.timeout(120_000);
      const restarted = await fetch(`${BRIDGE}/restart-worker`);
      assert.equal(restarted.status, 200);
      const res = await httpFetch(`${URL_}/api/v1/sandboxes/${sandboxId}/processes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'sleep 60', processId: 'after-restart' }),
      });
      assert.equal(res.status, 201);
      // Only a stream that reconnected (or the fallback poll while it is down) brings this in.
      await waitFor('the process started after the restart', () => node(`${sandboxId}/process/after-restart`), 60_000);
      await waitFor('the event stream', () => api.ctx.connection?.connected, 30_000);
    });
  });

  describe('the local server', () => {
    it('starts this project\'s local stack, connects to it with its token (no typing), and stops it', async function () {
      this.timeout(240_000);
      const localPort = Number(env('SANDBOX_PORTS_PORT'));
      const localUrl = `http://127.0.0.1:${localPort}`;
      await vscode.commands.executeCommand('sandboxPorts.disconnect');
      // The runner's settings file may reach the extension host after activation: the command
      // would then ask for the folder (and wait for a click), so wait for the setting first.
      await waitFor('the local-server folder setting', () => api.ctx.settings.localServerFolder !== '', 60_000);
      await vscode.commands.executeCommand('sandboxPorts.startLocalServer');
      await waitFor('a connection to the local server', () => api.ctx.connection?.client.url === localUrl && api.ctx.connection.connected, 120_000);
      await vscode.commands.executeCommand('sandboxPorts.createSandbox', 'local-one');
      await waitFor('the sandbox on the local server', () => node('sandbox/local-one'));
      await vscode.commands.executeCommand('sandboxPorts.stopLocalServer');
      await waitFor(
        'the local server to be gone',
        async () => {
          try {
            await httpFetch(`${localUrl}/api/v1/health`);
            return false;
          } catch {
            return true;
          }
        },
        30_000,
      );
    });
  });
});
