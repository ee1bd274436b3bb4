import assert from 'node:assert/strict';
import { buildTree, commandLink, walk, type TreeNode } from '../../extension/core/tree-model';
import { worldFrom } from '../../extension/core/state-reducer';
import type { ExposedPort } from '../../worker/protocol/index';
import { box, proc } from './extension-fakes';

const NOW = Date.parse('2026-01-01T00:04:30.000Z');

function exposed(port: number, extra: Partial<ExposedPort> = {}): ExposedPort {
  const url = `http://${port}-my-box-abc123.localhost:8787/`;
  return { port, url, exposedAt: url, visibility: 'public', createdAt: '2026-01-01T00:01:00.000Z', ...extra };
}

function find(nodes: TreeNode[], id: string): TreeNode {
  const n = walk(nodes).find((x) => x.id === id);
  assert.ok(n, `no node ${id}; have ${walk(nodes).map((x) => x.id).join(', ')}`);
  return n;
}

const world = worldFrom([
  box('my-box', {
    processes: [proc('web', 'running', { pid: 123, command: 'python3 -m http.server 8080' }), proc('job', 'failed', { exitCode: 2, endTime: '2026-01-01T00:00:05.000Z' })],
    ports: [exposed(8080, { name: 'web' }), exposed(9000, { visibility: 'private' })],
    detectedPorts: [
      { port: 8080, address: '0.0.0.0', pid: 123, processId: 'web' },
      { port: 8081, address: '0.0.0.0', pid: 123, processId: 'web' },
      { port: 5432, address: '127.0.0.1', pid: 200, processId: null },
    ],
    tunnels: [{ id: 't1', port: 8080, url: 'https://a-b.trycloudflare.com', hostname: 'a-b.trycloudflare.com', createdAt: '' }],
  }),
  box('another', { status: 'stopped' }),
]);

describe('tree model', () => {
  describe('buildTree', () => {
    const roots = buildTree(world, { now: NOW });

    it('says when a sandbox is not isolated or has no internet, and how it is isolated in the tooltip', () => {
      const [plain, isolated] = buildTree(worldFrom([box('plain', { isolation: 'none', internet: false }), box('sealed', { isolation: 'namespaces', internet: true })]), { now: NOW });
      assert.equal(plain!.description, 'running · not isolated · no internet');
      assert.match(plain!.tooltip, /Not isolated:.*plain processes/);
      assert.match(plain!.tooltip, /No outbound network/);
      assert.equal(isolated!.description, 'running');
      assert.match(isolated!.tooltip, /namespaces of its own/);
    });

    it('lists sandboxes by id with state icon and a description counting exposed ports', () => {
      assert.deepEqual(roots.map((r) => r.label), ['another', 'my-box']);
      const s = roots[1]!;
      assert.equal(s.description, 'running · 2 ports');
      assert.equal(s.contextValue, 'sandbox;running;');
      assert.deepEqual(s.icon, { id: 'vm-running', color: 'charts.green' });
      assert.equal(roots[0]!.contextValue, 'sandbox;stopped;');
      assert.equal(roots[0]!.collapsible, 'none');
    });

    it('orders a sandbox: processes, exposed ports, tunnels, then detected ports not exposed', () => {
      const kinds = roots[1]!.children.map((c) => `${c.kind}:${c.label}`);
      assert.deepEqual(kinds, ['process:python3 -m http.server 8080', 'process:node job.js', 'port:web', 'port:9000', 'tunnel:tunnel 8080', 'detectedPort:8081', 'detectedPort:5432']);
    });

    it('describes a running process with pid and age, and an exited one with status and code', () => {
      const web = find(roots, 'my-box/process/web');
      assert.equal(web.description, 'pid 123 · 4m');
      assert.equal(web.contextValue, 'process;running;running;');
      assert.equal(web.icon.id, 'play-circle');
      const job = find(roots, 'my-box/process/job');
      assert.equal(job.description, 'failed (2) · 5s');
      assert.equal(job.contextValue, 'process;exited;failed;');
      assert.deepEqual(job.icon, { id: 'error', color: 'charts.red' });
    });

    it('puts the ports a process listens on under it, exposed or not', () => {
      const web = find(roots, 'my-box/process/web');
      assert.deepEqual(web.children.map((c) => c.contextValue), ['port;exposed;public;listening;', 'detectedPort;']);
      assert.equal(web.children[0]!.processId, 'web');
    });

    it('labels an exposed port by name or number, shows its URL, and encodes visibility and health', () => {
      const web = find(roots, 'my-box/port/8080');
      assert.equal(web.label, 'web');
      assert.equal(web.description, 'http://8080-my-box-abc123.localhost:8787/');
      assert.deepEqual(web.icon, { id: 'globe', color: 'charts.green' });
      const priv = find(roots, 'my-box/port/9000');
      assert.equal(priv.label, '9000');
      assert.equal(priv.contextValue, 'port;exposed;private;idle;');
      assert.deepEqual(priv.icon, { id: 'lock', color: 'list.warningForeground' });
      assert.match(priv.tooltip, /Nothing is listening on port 9000/);
    });

    it('matches menu clauses written as viewItem =~ /;exposed;/', () => {
      const exposedNodes = walk(roots).filter((n) => /;exposed;/.test(n.contextValue));
      assert.deepEqual(exposedNodes.map((n) => n.id), ['my-box/process/web/port/8080', 'my-box/port/8080', 'my-box/port/9000']);
      assert.ok(walk(roots).filter((n) => /^detectedPort;/.test(n.contextValue)).every((n) => n.kind === 'detectedPort'));
    });

    it('warns about a port bound to loopback only', () => {
      const pg = find(roots, 'my-box/detected/5432');
      assert.equal(pg.contextValue, 'detectedPort;loopback;');
      assert.match(pg.tooltip, /Bound to 127\.0\.0\.1 only/);
    });

    it('writes Markdown tooltips with clickable URLs and command links', () => {
      const web = find(roots, 'my-box/port/8080');
      assert.ok(web.tooltip.includes('](http://8080-my-box-abc123.localhost:8787/)'));
      assert.ok(web.tooltip.includes(commandLink('sandboxPorts.openPreview', [{ sandboxId: 'my-box', port: 8080, url: web.url, processId: 'web' }])));
      const proc = find(roots, 'my-box/process/web');
      assert.match(proc.tooltip, /\[Show Logs\]\(command:sandboxPorts\.showLogs\?/);
      assert.deepEqual(proc.command?.arguments, [{ sandboxId: 'my-box', processId: 'web' }]);
    });

    it('keeps node ids unique, so the view can keep expansion across rebuilds', () => {
      const ids = walk(roots).map((n) => n.id);
      assert.equal(new Set(ids).size, ids.length);
    });

    it('builds a tree of 100 sandboxes × 10 processes × 5 ports, every node in it', () => {
      const big = worldFrom(
        Array.from({ length: 100 }, (_, i) =>
          box(`box-${i}`, {
            processes: Array.from({ length: 10 }, (_, j) => proc(`p${j}`)),
            ports: Array.from({ length: 5 }, (_, k) => exposed(8000 + k)),
            detectedPorts: Array.from({ length: 5 }, (_, k) => ({ port: 8000 + k, address: '0.0.0.0', pid: 1, processId: `p${k}` })),
          }),
        ),
      );
      // How long it takes is bench:extension's to judge; here, that every node is there.
      const nodes = buildTree(big, { now: NOW });
      assert.equal(walk(nodes).length, 100 * (1 + 10 + 5 + 5));
    });
  });
});
