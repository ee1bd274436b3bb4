import assert from 'node:assert/strict';
import { buildTree, commandLink, walk, type TreeNode } from '../../extension/core/tree-model';
import { worldFrom } from '../../extension/core/state-reducer';
import type { ExposedPort } from '../../worker/protocol/index';
import { parsePortsAttributes } from '../../extension/core/port-attributes';
import { box, proc } from './extension-fakes';

const NOW = Date.parse('2026-01-01T00:04:30.000Z');

function exposed(port: number, extra: Partial<ExposedPort> = {}): ExposedPort {
  const url = `http://${port}-my-box-abc123.localhost:8787/`;
  return { port, url, exposedAt: url, visibility: 'public', createdAt: '2026-01-01T00:01:00.000Z', ...extra };
}

function find(nodes: TreeNode[], id: string): TreeNode {
  const n = walk(nodes).find((x) => x.id === id);
  assert.ok(
    n,
    `no node ${id}; have ${walk(nodes)
      .map((x) => x.id)
      .join(', ')}`,
  );
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
      const [plain, isolated] = buildTree(worldFrom([box('plain', { isolation: 'none', internet: false }), box('sealed', { isolation: 'namespaces', internet: true })]), {
        now: NOW,
      });
      assert.equal(plain!.description, 'running · not isolated · no internet');
      assert.match(plain!.tooltip, /Not isolated:.*plain processes/);
      assert.match(plain!.tooltip, /No outbound network/);
      assert.equal(isolated!.description, 'running');
      assert.match(isolated!.tooltip, /namespaces of its own/);
    });

    it('lists sandboxes by id with state icon and a description counting exposed ports', () => {
      assert.deepEqual(
        roots.map((r) => r.label),
        ['another', 'my-box'],
      );
      const s = roots[1]!;
      assert.equal(s.description, 'running · 2 ports');
      assert.equal(s.contextValue, 'sandbox;running;');
      assert.deepEqual(s.icon, { id: 'vm-running', color: 'charts.green' });
      assert.equal(roots[0]!.contextValue, 'sandbox;stopped;');
      assert.equal(roots[0]!.collapsible, 'none');
    });

    it('orders a sandbox: processes in the order they started, then a Ports heading, then a Tunnels heading', () => {
      const kinds = roots[1]!.children.map((c) => `${c.kind}:${c.label}`);
      assert.deepEqual(kinds, ['process:node job.js', 'process:python3 -m http.server 8080', 'group:Ports', 'group:Tunnels']);
      const ports = find(roots, 'my-box/group/ports');
      assert.deepEqual(
        ports.children.map((c) => `${c.kind}:${c.label}`),
        ['detectedPort:5432', 'port:9000'],
      );
      assert.equal(ports.collapsible, 'expanded');
      assert.deepEqual(
        find(roots, 'my-box/group/tunnels').children.map((c) => c.label),
        ['tunnel 8080'],
      );
    });

    it('shows each port once: under its process when a listed process owns it, else under Ports', () => {
      const counts = new Map<number, number>();
      for (const n of walk(roots)) if (n.kind === 'port' || n.kind === 'detectedPort') counts.set(n.port!, (counts.get(n.port!) ?? 0) + 1);
      assert.deepEqual(
        [...counts.entries()].sort((a, b) => a[0] - b[0]),
        [
          [5432, 1],
          [8080, 1],
          [8081, 1],
          [9000, 1],
        ],
      );
      const ids = walk(roots).map((n) => n.id);
      assert.equal(new Set(ids).size, ids.length);
    });

    it('keeps a row in place when its process ends (no re-sorting under the mouse)', () => {
      const running = worldFrom([
        box('b', { processes: [proc('a', 'running', { startTime: '2026-01-01T00:00:01.000Z' }), proc('z', 'running', { startTime: '2026-01-01T00:00:02.000Z' })] }),
      ]);
      const ended = worldFrom([
        box('b', { processes: [proc('a', 'completed', { startTime: '2026-01-01T00:00:01.000Z', exitCode: 0 }), proc('z', 'running', { startTime: '2026-01-01T00:00:02.000Z' })] }),
      ]);
      const order = (w: typeof running) => buildTree(w, { now: NOW })[0]!.children.map((c) => c.processId);
      assert.deepEqual(order(running), ['a', 'z']);
      assert.deepEqual(order(ended), ['a', 'z']);
    });

    it('hides ended processes the user cleared, never running ones', () => {
      const cleared = new Set(['my-box/job', 'my-box/web']);
      const kids = buildTree(world, { now: NOW, cleared })[1]!.children;
      assert.deepEqual(
        kids.filter((c) => c.kind === 'process').map((c) => c.processId),
        ['web'],
      );
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

    it('puts the ports a process listens on under it, exposed or not, and opens it', () => {
      const web = find(roots, 'my-box/process/web');
      assert.deepEqual(
        web.children.map((c) => c.contextValue),
        ['port;exposed;public;listening;', 'detectedPort;'],
      );
      assert.equal(web.children[0]!.processId, 'web');
      assert.equal(web.collapsible, 'expanded');
    });

    it('labels a named port "name (port)", shows its URL, and encodes visibility and health', () => {
      const web = find(roots, 'my-box/port/8080');
      assert.equal(web.label, 'web (8080)');
      assert.equal(web.description, 'http://8080-my-box-abc123.localhost:8787/');
      assert.deepEqual(web.icon, { id: 'globe', color: 'charts.green' });
      const priv = find(roots, 'my-box/port/9000');
      assert.equal(priv.label, '9000');
      assert.equal(priv.description, 'http://9000-my-box-abc123.localhost:8787/ · private · nothing listening');
      assert.equal(priv.contextValue, 'port;exposed;private;idle;');
      assert.deepEqual(priv.icon, { id: 'lock', color: 'list.warningForeground' });
      assert.match(priv.tooltip, /Nothing is listening on port 9000/);
    });

    it('shows an exposed port whose service listens on 127.0.0.1 only as a warning, not a green globe', () => {
      const w = worldFrom([box('b', { ports: [exposed(7000)], detectedPorts: [{ port: 7000, address: '127.0.0.1', pid: 5, processId: null }] })]);
      const n = find(buildTree(w, { now: NOW }), 'b/port/7000');
      assert.equal(n.contextValue, 'port;exposed;public;loopback;');
      assert.deepEqual(n.icon, { id: 'warning', color: 'list.warningForeground' });
      assert.match(n.description!, /127\.0\.0\.1 only$/);
      assert.match(n.tooltip, /cannot reach it/);
    });

    it('matches menu clauses written as viewItem =~ /;exposed;/', () => {
      const exposedNodes = walk(roots).filter((n) => /;exposed;/.test(n.contextValue));
      assert.deepEqual(exposedNodes.map((n) => n.id).sort(), ['my-box/port/8080', 'my-box/port/9000']);
      assert.ok(
        walk(roots)
          .filter((n) => /^detectedPort;/.test(n.contextValue))
          .every((n) => n.kind === 'detectedPort'),
      );
    });

    it('warns about a port bound to loopback only', () => {
      const pg = find(roots, 'my-box/port/5432');
      assert.equal(pg.contextValue, 'detectedPort;loopback;');
      assert.equal(pg.description, '127.0.0.1 only · not exposed');
      assert.match(pg.tooltip, /Bound to 127\.0\.0\.1 only/);
    });

    it('writes Markdown tooltips with clickable URLs, command links and relative times', () => {
      const web = find(roots, 'my-box/port/8080');
      assert.ok(web.tooltip.includes('](http://8080-my-box-abc123.localhost:8787/)'));
      assert.ok(web.tooltip.includes(commandLink('sandboxPorts.openPreview', [{ sandboxId: 'my-box', port: 8080, url: web.url, processId: 'web' }])));
      assert.match(web.tooltip, /exposed 3 minutes ago/);
      const proc = find(roots, 'my-box/process/web');
      assert.match(proc.tooltip, /\[Show Output\]\(command:sandboxPorts\.showLogs\?/);
      assert.match(proc.tooltip, /started 4 minutes ago/);
      assert.doesNotMatch(proc.tooltip, /2026-01-01T/);
      // A click shows the output without moving the focus out of the tree.
      assert.deepEqual(proc.command?.arguments, [{ sandboxId: 'my-box', processId: 'web', preserveFocus: true }]);
    });

    it('uses per-port attributes: a label for a detected port, and ignore hides it', () => {
      const rules = parsePortsAttributes({ '8081': { label: 'admin' }, '5000-5999': { onDetect: 'ignore' } }, 'settings').rules;
      const nodes = buildTree(world, { now: NOW, rules });
      assert.equal(find(nodes, 'my-box/port/8081').label, 'admin (8081)');
      assert.equal(
        walk(nodes).find((n) => n.id === 'my-box/port/5432'),
        undefined,
      );
      // Under its process too; an exposed port stays whatever its attributes say.
      const ignoreAll = parsePortsAttributes({ '8080-8081': { onDetect: 'ignore' } }, 'settings').rules;
      const web = find(buildTree(world, { now: NOW, rules: ignoreAll }), 'my-box/process/web');
      assert.deepEqual(
        web.children.map((c) => c.id),
        ['my-box/port/8080'],
      );
    });

    it('marks everything as last known while disconnected: greyed, "as of", no spinner', () => {
      const asOf = new Date(2026, 0, 1, 12, 3).getTime();
      const starting = worldFrom([box('s', { status: 'starting' })]);
      const stale = buildTree(world, { now: NOW, asOf });
      assert.ok(walk(stale).every((n) => n.icon.color === 'disabledForeground' && n.contextValue.endsWith('stale;')));
      assert.equal(find(stale, 'sandbox/my-box').description, 'running · 2 ports · as of 12:03');
      assert.match(find(stale, 'my-box/process/web').tooltip, /^_Last known state as of 12:03/);
      assert.equal(buildTree(starting, { now: NOW, asOf })[0]!.icon.id, 'loading');
      assert.ok(walk(buildTree(world, { now: NOW })).every((n) => !n.contextValue.includes('stale;')));
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
      assert.equal(walk(nodes).length, 100 * (1 + 10 + 5));
    });
  });
});
