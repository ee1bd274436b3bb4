/**
 * State → the plain nodes the sidebar shows. Everything the view needs (label, description,
 * Markdown tooltip, icon and colour ids, composite contextValue for menus) is decided here, so
 * the TreeDataProvider only copies fields and plain Node tests cover the decisions.
 *
 * contextValue grammar: `kind;state;…;` with a leading kind and every flag followed by `;`, so
 * menus match with `viewItem =~ /;exposed;/` or `viewItem =~ /^process;running;/`.
 */
import {
  describeExit,
  formatBytes,
  formatMiB,
  formatVcpu,
  isLoopbackAddress,
  nearMemoryLimit,
  type DetectedPort,
  type ExposedPort,
  type ProcessInfo,
  type ProcessStatus,
  type SandboxState,
  type SandboxStatus,
  type TunnelInfo,
} from '../../worker/protocol/index';
import { clockTime, formatAge, formatRelative, md, plural, shorten } from './format';
import { attributesFor, type AttributeRule } from './port-attributes';
import type { WorldState } from './state-reducer';

export type NodeKind = 'sandbox' | 'process' | 'port' | 'detectedPort' | 'tunnel' | 'group';

export interface NodeIcon {
  /** A codicon id, e.g. `vm-running` or `loading~spin`. */
  id: string;
  /** A theme colour id, e.g. `charts.green`. */
  color?: string;
}

export interface NodeCommand {
  command: string;
  title: string;
  arguments: unknown[];
}

/** What a command run on a node needs to know; commands also accept these plain refs. */
export interface NodeRef {
  sandboxId: string;
  processId?: string;
  port?: number;
  url?: string;
}

export interface TreeNode extends NodeRef {
  kind: NodeKind;
  /** Stable across rebuilds, so the view keeps expansion and selection. One id per port, wherever it shows. */
  id: string;
  label: string;
  description?: string;
  /** Markdown; may hold `command:` links (the view trusts only this extension's commands). */
  tooltip: string;
  contextValue: string;
  icon: NodeIcon;
  collapsible: 'none' | 'collapsed' | 'expanded';
  children: TreeNode[];
  command?: NodeCommand;
}

export interface TreeOptions {
  now: number;
  /** Set while the live stream is lost: every node is last-known state as of this time. */
  asOf?: number;
  /** Per-port attributes (labels; `ignore` hides a detected port). */
  rules?: readonly AttributeRule[];
  /** Ended processes the user cleared, as `sandboxId/processId`. */
  cleared?: ReadonlySet<string>;
}

const SANDBOX_ICONS: Record<SandboxStatus, NodeIcon> = {
  running: { id: 'vm-running', color: 'charts.green' },
  starting: { id: 'loading~spin' },
  stopped: { id: 'vm-outline', color: 'disabledForeground' },
  destroyed: { id: 'trash', color: 'disabledForeground' },
};

const PROCESS_ICONS: Record<ProcessStatus, NodeIcon> = {
  running: { id: 'play-circle', color: 'charts.green' },
  completed: { id: 'pass', color: 'charts.blue' },
  failed: { id: 'error', color: 'charts.red' },
  killed: { id: 'circle-slash', color: 'disabledForeground' },
  error: { id: 'warning', color: 'charts.red' },
};

/** Killed by the kernel, not by anyone: shown as the error it is. */
const OUT_OF_MEMORY_ICON: NodeIcon = { id: 'error', color: 'charts.red' };

/** Builds the roots: one node per sandbox, sorted by id. */
export function buildTree(world: WorldState, options: TreeOptions): TreeNode[] {
  const roots = Object.values(world)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((s) => sandboxNode(s, options));
  const asOf = options.asOf;
  return asOf === undefined ? roots : roots.map((n) => markStale(n, asOf));
}

/**
 * A node whose Markdown tooltip is written only when read: VS Code asks for it on hover, so a
 * rebuild of thousands of rows does not format thousands of tooltips nobody looks at. (A getter
 * on the prototype keeps the objects' shapes fast; defineProperty on each would not.)
 */
class LazyRow {
  // Private fields, so a spread of a row copies its node fields and nothing else.
  #text: string | undefined;
  readonly #make: () => string;
  constructor(fields: Omit<TreeNode, 'tooltip'>, make: () => string) {
    Object.assign(this, fields);
    this.#make = make;
  }
  get tooltip(): string {
    return (this.#text ??= this.#make());
  }
}

function lazyTooltip(fields: Omit<TreeNode, 'tooltip'>, make: () => string): TreeNode {
  return new LazyRow(fields, make) as unknown as TreeNode;
}

export function commandLink(command: string, args: unknown[]): string {
  return `command:${command}?${encodeURIComponent(JSON.stringify(args))}`;
}

/** `site (8010)` for a named port, `8010` otherwise. */
export function portLabel(port: number, name: string | undefined): string {
  return name ? `${name} (${port})` : String(port);
}

function sandboxNode(s: SandboxState, options: TreeOptions): TreeNode {
  const rules = options.rules ?? [];
  const exposed = new Map(s.ports.map((p) => [p.port, p]));
  const detected = new Map(s.detectedPorts.map((d) => [d.port, d]));
  const processes = s.processes.filter((p) => p.status === 'running' || !options.cleared?.has(`${s.id}/${p.id}`)).sort(processOrder);
  const listed = new Set(processes.map((p) => p.id));
  const ownedByListed = (port: number) => {
    const owner = detected.get(port)?.processId;
    return typeof owner === 'string' && listed.has(owner);
  };
  // Each port once: under its process when a listed process owns it, else under "Ports".
  const loosePorts: TreeNode[] = [
    ...s.ports.filter((p) => !ownedByListed(p.port)).map((p) => exposedPortNode(s, p, options)),
    ...s.detectedPorts
      .filter((d) => !exposed.has(d.port) && !ownedByListed(d.port) && attributesFor(rules, d.port).onDetect !== 'ignore')
      .map((d) => detectedPortNode(s, d, options)),
  ].sort((a, b) => (a.port ?? 0) - (b.port ?? 0));
  const children: TreeNode[] = [
    ...processes.map((p) => processNode(s, p, exposed, options)),
    ...(loosePorts.length > 0 ? [groupNode(s, 'ports', 'Ports', loosePorts, 'ports no listed process owns')] : []),
    ...(s.tunnels.length > 0
      ? [
          groupNode(
            s,
            'tunnels',
            'Tunnels',
            s.tunnels.map((t) => tunnelNode(s, t, options)),
            'quick tunnels',
          ),
        ]
      : []),
  ];
  const running = s.processes.filter((p) => p.status === 'running').length;
  const near = s.status === 'running' && nearMemoryLimit(s.resources);
  const parts: string[] = [s.status];
  if (s.ports.length > 0) parts.push(plural(s.ports.length, 'port'));
  if (near) parts.push(`memory ${memoryShare(s)}`);
  if (s.isolation === 'none') parts.push('not isolated');
  if (s.internet === false) parts.push('no internet');
  const tooltip = () =>
    [
      `**Sandbox \`${s.id}\`** — ${s.status}`,
      `${plural(running, 'running process', 'running processes')} · ${plural(s.ports.length, 'exposed port')} · ${plural(s.tunnels.length, 'tunnel')}`,
      ...s.ports.map((p) => `- [${md(p.url)}](${p.url})`),
      ...sizeLines(s, near, options.now),
      ...(s.isolation ? [ISOLATION_TEXT[s.isolation]] : []),
      ...(s.internet === false ? ['No outbound network (created with enableInternet: false).'] : []),
      `Created ${formatRelative(Date.parse(s.createdAt), options.now)}`,
    ].join('\n\n');
  return lazyTooltip(
    {
      kind: 'sandbox',
      id: `sandbox/${s.id}`,
      sandboxId: s.id,
      label: s.id,
      description: parts.join(' · '),
      contextValue: `sandbox;${s.status};`,
      icon: near ? NEAR_LIMIT_ICON : (SANDBOX_ICONS[s.status] ?? { id: 'vm' }),
      collapsible: children.length > 0 ? 'expanded' : 'none',
      children,
    },
    tooltip,
  );
}

/** A running sandbox that uses most of its memory: the kernel kills its largest process at the limit. */
const NEAR_LIMIT_ICON: NodeIcon = { id: 'warning', color: 'list.warningForeground' };

function memoryShare(s: SandboxState): string {
  const { used, limit } = s.resources?.memory ?? { used: 0, limit: null };
  return limit ? `${Math.round((used / limit) * 100)}%` : formatBytes(used);
}

/** The sandbox's instance type and sizes, and what it uses (as of its last reading). */
function sizeLines(s: SandboxState, near: boolean, now: number): string[] {
  const lines: string[] = [];
  if (s.limits) {
    const type = s.instanceType && s.instanceType !== 'custom' ? `Instance type **${s.instanceType}**` : 'Custom size';
    lines.push(`${type}: ${formatVcpu(s.limits.vcpu)} · ${formatMiB(s.limits.memoryMiB)} memory · ${s.limits.diskMB / 1000} GB disk`);
  }
  const r = s.status === 'running' ? s.resources : undefined;
  if (r) {
    const memory = `Memory ${formatBytes(r.memory.used)}${r.memory.limit ? ` of ${formatBytes(r.memory.limit)} (${memoryShare(s)})` : ''}`;
    const tasks = `${r.processes.count}${r.processes.limit ? ` of ${r.processes.limit}` : ''} tasks`;
    lines.push(
      `${near ? '$(warning) ' : ''}${memory} · ${tasks} · CPU ${r.cpu.seconds.toFixed(1)} s · disk ${r.disk.partial ? 'at least ' : ''}${formatBytes(r.disk.used)} (measured ${formatRelative(Date.parse(r.at), now)})`,
    );
    if (near) lines.push('Near its memory limit: at the limit the kernel kills its largest process.');
    if (r.oomKills > 0) lines.push(`${plural(r.oomKills, 'process was', 'processes were')} killed for memory since it started.`);
  }
  return lines;
}

function groupNode(s: SandboxState, key: string, label: string, children: TreeNode[], what: string): TreeNode {
  return lazyTooltip(
    {
      kind: 'group',
      id: `${s.id}/group/${key}`,
      sandboxId: s.id,
      label,
      description: String(children.length),
      contextValue: `group;${key};`,
      icon: { id: key === 'tunnels' ? 'cloud' : 'plug' },
      collapsible: 'expanded',
      children,
    },
    () => `${label} of sandbox \`${s.id}\`: ${what}`,
  );
}

const ISOLATION_TEXT: Record<NonNullable<SandboxState['isolation']>, string> = {
  container: 'Isolated: a container of its own.',
  namespaces: 'Isolated: namespaces of its own (network, files, processes) on this machine.',
  none: '**Not isolated:** its commands run as plain processes with your rights and share this machine’s network.',
};

/** In the order they started: a process that ends keeps its row, new ones join at the bottom. */
function processOrder(a: ProcessInfo, b: ProcessInfo): number {
  return a.startTime.localeCompare(b.startTime) || a.id.localeCompare(b.id);
}

function processNode(s: SandboxState, p: ProcessInfo, exposed: Map<number, ExposedPort>, options: TreeOptions): TreeNode {
  // A port whose attributes say `ignore` is hidden wherever it would show, unless it is exposed.
  const ports = s.detectedPorts.filter((d) => d.processId === p.id && (exposed.has(d.port) || attributesFor(options.rules ?? [], d.port).onDetect !== 'ignore'));
  const children = ports.map((d) => {
    const e = exposed.get(d.port);
    return e ? exposedPortNode(s, e, options) : detectedPortNode(s, d, options);
  });
  const started = Date.parse(p.startTime);
  const ended = p.endTime ? Date.parse(p.endTime) : options.now;
  const age = Number.isFinite(started) ? formatAge(ended - started) : '';
  let description: string;
  if (p.status === 'running') description = [p.pid !== null ? `pid ${p.pid}` : null, age].filter(Boolean).join(' · ');
  else if (p.reason) description = [describeExit(p), age].filter(Boolean).join(' · ');
  else if (p.status === 'killed') description = [p.signal ?? 'killed', age].filter(Boolean).join(' · ');
  else description = [`${p.status}${p.exitCode !== undefined && p.exitCode !== null ? ` (${p.exitCode})` : ''}`, age].filter(Boolean).join(' · ');
  const ref = { sandboxId: s.id, processId: p.id };
  const timing = () => [
    p.pid !== null ? `pid ${p.pid}` : null,
    `started ${formatRelative(started, options.now)}`,
    p.endTime ? `ended ${formatRelative(Date.parse(p.endTime), options.now)}` : null,
    p.exitCode != null ? `exit code ${p.exitCode}` : null,
    p.reason ? describeExit(p) : null,
  ];
  const tooltip = () =>
    [
      `**${md(shorten(p.command, 80))}** — ${p.status}`,
      '```sh\n' + p.command.replace(/```/g, "'''") + '\n```',
      timing().filter(Boolean).join(' · '),
      ports.length > 0 ? `Listening on ${ports.map((d) => `${d.address}:${d.port}`).join(', ')}` : null,
      `Process \`${p.id}\` · [Show Output](${commandLink('sandboxPorts.showLogs', [ref])})`,
    ]
      .filter((x): x is string => x !== null)
      .join('\n\n');
  return lazyTooltip(
    {
      kind: 'process',
      id: `${s.id}/process/${p.id}`,
      ...ref,
      label: shorten(p.command),
      description,
      contextValue: `process;${p.status === 'running' ? 'running' : 'exited'};${p.status};`,
      icon: p.reason === 'out-of-memory' ? OUT_OF_MEMORY_ICON : (PROCESS_ICONS[p.status] ?? { id: 'terminal' }),
      collapsible: children.length > 0 ? 'expanded' : 'none',
      children,
      // A click shows the output but leaves the focus in the tree, so the arrow keys keep working.
      command: { command: 'sandboxPorts.showLogs', title: 'Show Output', arguments: [{ ...ref, preserveFocus: true }] },
    },
    tooltip,
  );
}

export type PortHealth = 'listening' | 'loopback' | 'idle';

/** `12 requests, last 404 · ` before an exposed port's URL: what the traffic inspector counted. */
function trafficNote(p: ExposedPort): string {
  const t = p.traffic;
  if (!t || t.requests === 0) return '';
  return `${plural(t.requests, 'request')}${t.lastStatus !== undefined ? `, last ${t.lastStatus}` : ''} · `;
}

function trafficLine(p: ExposedPort, now: number): string {
  if (p.inspect === false) return 'Traffic inspector: off for this port (exposed with inspect: false)';
  const t = p.traffic;
  if (!t || t.requests === 0) return 'Traffic inspector: no requests yet';
  const when = t.lastTime ? ` ${formatRelative(Date.parse(t.lastTime), now)}` : '';
  return `Traffic inspector: ${plural(t.requests, 'request')}${t.lastStatus !== undefined ? `, the last answered ${t.lastStatus}${when}` : ''}`;
}

function exposedPortNode(s: SandboxState, p: ExposedPort, options: TreeOptions): TreeNode {
  const listener = s.detectedPorts.find((d) => d.port === p.port);
  const health: PortHealth = !listener ? 'idle' : isLoopbackAddress(listener.address) ? 'loopback' : 'listening';
  const ref = { sandboxId: s.id, port: p.port, url: p.url, ...(listener?.processId ? { processId: listener.processId } : {}) };
  const icon: NodeIcon =
    health === 'loopback'
      ? { id: 'warning', color: 'list.warningForeground' }
      : { id: p.visibility === 'private' ? 'lock' : 'globe', color: health === 'listening' ? 'charts.green' : 'list.warningForeground' };
  const state = !listener
    ? `Nothing is listening on port ${p.port} yet: the preview answers 502 until a service listens on 0.0.0.0:${p.port}.`
    : health === 'loopback'
      ? `Listening on ${listener.address}:${p.port} only: the preview cannot reach it. Make the service listen on 0.0.0.0:${p.port}.`
      : `Listening on ${listener.address}:${p.port}${listener.pid ? ` (pid ${listener.pid})` : ''}`;
  const tooltip = () =>
    [
      `**${md(portLabel(p.port, p.name))}** — ${p.visibility}`,
      `[${md(p.url)}](${p.url})`,
      state,
      [`exposed ${formatRelative(Date.parse(p.createdAt), options.now)}`, p.expiresAt ? `expires ${formatRelative(Date.parse(p.expiresAt), options.now)}` : null]
        .filter(Boolean)
        .join(' · '),
      trafficLine(p, options.now),
      `[Open Preview](${commandLink('sandboxPorts.openPreview', [ref])}) · [Copy URL](${commandLink('sandboxPorts.copyUrl', [ref])}) · [Inspect Traffic](${commandLink('sandboxPorts.inspectTraffic', [ref])})`,
    ].join('\n\n');
  const note = !listener ? ' · nothing listening' : health === 'loopback' ? ` · ${listener.address} only` : '';
  return lazyTooltip(
    {
      kind: 'port',
      id: `${s.id}/port/${p.port}`,
      ...ref,
      label: portLabel(p.port, p.name),
      // The count first: a narrow sidebar cuts the end of a description, and the URL is in the tooltip.
      description: `${trafficNote(p)}${p.url}${p.visibility === 'private' ? ' · private' : ''}${note}`,
      contextValue: `port;exposed;${p.visibility};${health};`,
      icon,
      collapsible: 'none',
      children: [],
    },
    tooltip,
  );
}

function detectedPortNode(s: SandboxState, d: DetectedPort, options: TreeOptions): TreeNode {
  const owner = d.processId ? s.processes.find((p) => p.id === d.processId) : undefined;
  const ref = { sandboxId: s.id, port: d.port, ...(d.processId ? { processId: d.processId } : {}) };
  const loopbackOnly = isLoopbackAddress(d.address);
  const label = attributesFor(options.rules ?? [], d.port).label;
  return lazyTooltip(
    {
      kind: 'detectedPort',
      id: `${s.id}/port/${d.port}`,
      ...ref,
      label: portLabel(d.port, label),
      description: `${d.address}${loopbackOnly ? ' only' : ''} · not exposed`,
      contextValue: `detectedPort;${loopbackOnly ? 'loopback;' : ''}`,
      icon: loopbackOnly ? { id: 'plug', color: 'list.warningForeground' } : { id: 'plug' },
      collapsible: 'none',
      children: [],
    },
    () =>
      [
        `**Port ${d.port}** — detected, not exposed`,
        `Listening on ${d.address}:${d.port}${d.pid ? ` (pid ${d.pid})` : ''}${owner ? ` by \`${shorten(owner.command, 80)}\`` : ''}`,
        loopbackOnly ? `Bound to ${d.address} only: a preview cannot reach it. Listen on 0.0.0.0 instead.` : null,
        `[Expose Port](${commandLink('sandboxPorts.exposePort', [ref])})`,
      ]
        .filter((x): x is string => x !== null)
        .join('\n\n'),
  );
}

function tunnelNode(s: SandboxState, t: TunnelInfo, options: TreeOptions): TreeNode {
  const ref = { sandboxId: s.id, port: t.port, url: t.url };
  return lazyTooltip(
    {
      kind: 'tunnel',
      id: `${s.id}/tunnel/${t.port}`,
      ...ref,
      label: `tunnel ${t.port}`,
      description: t.url,
      contextValue: 'tunnel;up;',
      icon: { id: 'cloud', color: 'charts.blue' },
      collapsible: 'none',
      children: [],
    },
    () => [`**Tunnel for port ${t.port}**`, `[${md(t.url)}](${t.url})`, `created ${formatRelative(Date.parse(t.createdAt), options.now)}`].join('\n\n'),
  );
}

/**
 * Last-known state while the stream is lost: greyed icons (no spinner pretends to be live), the
 * sandbox rows say "as of 12:03", every tooltip opens with it, and menus can tell (`stale;`).
 */
function markStale(n: TreeNode, asOf: number): TreeNode {
  const when = `as of ${clockTime(asOf)}`;
  return lazyTooltip(
    {
      ...n,
      icon: { id: n.icon.id.replace('~spin', ''), color: 'disabledForeground' },
      description: n.kind === 'sandbox' ? `${n.description ? `${n.description} · ` : ''}${when}` : n.description,
      contextValue: `${n.contextValue}stale;`,
      children: n.children.map((c) => markStale(c, asOf)),
    },
    () => `_Last known state ${when}: not connected to the Worker._\n\n${n.tooltip}`,
  );
}

/** Every node, depth first (for lookups and tests). */
export function walk(nodes: readonly TreeNode[]): TreeNode[] {
  const out: TreeNode[] = [];
  const visit = (n: TreeNode) => {
    out.push(n);
    n.children.forEach(visit);
  };
  nodes.forEach(visit);
  return out;
}
