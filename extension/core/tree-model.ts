/**
 * State → the plain nodes the sidebar shows. Everything the view needs (label, description,
 * Markdown tooltip, icon and colour ids, composite contextValue for menus) is decided here, so
 * the TreeDataProvider only copies fields and plain Node tests cover the decisions.
 *
 * contextValue grammar: `kind;state;…;` with a leading kind and every flag followed by `;`, so
 * menus match with `viewItem =~ /;exposed;/` or `viewItem =~ /^process;running;/`.
 */
import type { DetectedPort, ExposedPort, ProcessInfo, ProcessStatus, SandboxState, SandboxStatus, TunnelInfo } from '../../worker/protocol/index';
import { formatAge, md, plural, shorten } from './format';
import type { WorldState } from './state-reducer';

export type NodeKind = 'sandbox' | 'process' | 'port' | 'detectedPort' | 'tunnel';

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
  /** Stable across rebuilds, so the view keeps expansion and selection. */
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

/** Builds the roots: one node per sandbox, sorted by id. */
export function buildTree(world: WorldState, options: TreeOptions): TreeNode[] {
  return Object.values(world)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((s) => sandboxNode(s, options));
}

export function commandLink(command: string, args: unknown[]): string {
  return `command:${command}?${encodeURIComponent(JSON.stringify(args))}`;
}

function sandboxNode(s: SandboxState, options: TreeOptions): TreeNode {
  const exposed = new Map(s.ports.map((p) => [p.port, p]));
  const children: TreeNode[] = [
    ...[...s.processes].sort(processOrder).map((p) => processNode(s, p, exposed, options)),
    ...s.ports.map((p) => exposedPortNode(s, p, `${s.id}/port/${p.port}`)),
    ...s.tunnels.map((t) => tunnelNode(s, t)),
    ...s.detectedPorts.filter((d) => !exposed.has(d.port)).map((d) => detectedPortNode(s, d, `${s.id}/detected/${d.port}`)),
  ];
  const running = s.processes.filter((p) => p.status === 'running').length;
  const parts: string[] = [s.status];
  if (s.ports.length > 0) parts.push(plural(s.ports.length, 'port'));
  if (s.isolation === 'none') parts.push('not isolated');
  if (s.internet === false) parts.push('no internet');
  const tooltip = [
    `**Sandbox \`${s.id}\`** — ${s.status}`,
    `${plural(running, 'running process', 'running processes')} · ${plural(s.ports.length, 'exposed port')} · ${plural(s.tunnels.length, 'tunnel')}`,
    ...s.ports.map((p) => `- [${md(p.url)}](${p.url})`),
    ...(s.isolation ? [ISOLATION_TEXT[s.isolation]] : []),
    ...(s.internet === false ? ['No outbound network (created with enableInternet: false).'] : []),
    `Created ${s.createdAt}`,
  ].join('\n\n');
  return {
    kind: 'sandbox',
    id: `sandbox/${s.id}`,
    sandboxId: s.id,
    label: s.id,
    description: parts.join(' · '),
    tooltip,
    contextValue: `sandbox;${s.status};`,
    icon: SANDBOX_ICONS[s.status] ?? { id: 'vm' },
    collapsible: children.length > 0 ? 'expanded' : 'none',
    children,
  };
}

const ISOLATION_TEXT: Record<NonNullable<SandboxState['isolation']>, string> = {
  container: 'Isolated: a container of its own.',
  namespaces: 'Isolated: namespaces of its own (network, files, processes) on this machine.',
  none: '**Not isolated:** its commands run as plain processes with your rights and share this machine’s network.',
};

/** Running first, then newest first. */
function processOrder(a: ProcessInfo, b: ProcessInfo): number {
  const ra = a.status === 'running' ? 0 : 1;
  const rb = b.status === 'running' ? 0 : 1;
  return ra - rb || b.startTime.localeCompare(a.startTime);
}

function processNode(s: SandboxState, p: ProcessInfo, exposed: Map<number, ExposedPort>, options: TreeOptions): TreeNode {
  const ports = s.detectedPorts.filter((d) => d.processId === p.id);
  const children = ports.map((d) => {
    const e = exposed.get(d.port);
    const id = `${s.id}/process/${p.id}/port/${d.port}`;
    return e ? exposedPortNode(s, e, id) : detectedPortNode(s, d, id);
  });
  const started = Date.parse(p.startTime);
  const ended = p.endTime ? Date.parse(p.endTime) : options.now;
  const age = Number.isFinite(started) ? formatAge(ended - started) : '';
  let description: string;
  if (p.status === 'running') description = [p.pid !== null ? `pid ${p.pid}` : null, age].filter(Boolean).join(' · ');
  else if (p.status === 'killed') description = [p.signal ?? 'killed', age].filter(Boolean).join(' · ');
  else description = [`${p.status}${p.exitCode !== undefined && p.exitCode !== null ? ` (${p.exitCode})` : ''}`, age].filter(Boolean).join(' · ');
  const ref = { sandboxId: s.id, processId: p.id };
  const tooltip = [
    `**Process \`${p.id}\`** — ${p.status}`,
    '```sh\n' + p.command.replace(/```/g, "'''") + '\n```',
    [p.pid !== null ? `pid ${p.pid}` : null, `started ${p.startTime}`, p.endTime ? `ended ${p.endTime}` : null, p.exitCode != null ? `exit code ${p.exitCode}` : null]
      .filter(Boolean)
      .join(' · '),
    ports.length > 0 ? `Listening on ${ports.map((d) => `${d.address}:${d.port}`).join(', ')}` : null,
    `[Show Logs](${commandLink('sandboxPorts.showLogs', [ref])})`,
  ]
    .filter((x): x is string => x !== null)
    .join('\n\n');
  return {
    kind: 'process',
    id: `${s.id}/process/${p.id}`,
    ...ref,
    label: shorten(p.command),
    description,
    tooltip,
    contextValue: `process;${p.status === 'running' ? 'running' : 'exited'};${p.status};`,
    icon: PROCESS_ICONS[p.status] ?? { id: 'terminal' },
    collapsible: children.length > 0 ? 'expanded' : 'none',
    children,
    command: { command: 'sandboxPorts.showLogs', title: 'Show Logs', arguments: [ref] },
  };
}

function exposedPortNode(s: SandboxState, p: ExposedPort, id: string): TreeNode {
  const listener = s.detectedPorts.find((d) => d.port === p.port);
  const health = listener ? 'listening' : 'idle';
  const ref = { sandboxId: s.id, port: p.port, url: p.url, ...(listener?.processId ? { processId: listener.processId } : {}) };
  const icon: NodeIcon = {
    id: p.visibility === 'private' ? 'lock' : 'globe',
    color: listener ? 'charts.green' : 'list.warningForeground',
  };
  const tooltip = [
    `**${md(p.name ? `${p.name} (${p.port})` : `Port ${p.port}`)}** — ${p.visibility}`,
    `[${md(p.url)}](${p.url})`,
    listener
      ? `Listening on ${listener.address}:${p.port}${listener.pid ? ` (pid ${listener.pid})` : ''}`
      : `Nothing is listening on port ${p.port} yet: the preview answers 502 until a service listens on 0.0.0.0:${p.port}.`,
    [`exposed ${p.createdAt}`, p.expiresAt ? `expires ${p.expiresAt}` : null].filter(Boolean).join(' · '),
    `[Open Preview](${commandLink('sandboxPorts.openPreview', [ref])}) · [Copy URL](${commandLink('sandboxPorts.copyUrl', [ref])})`,
  ].join('\n\n');
  return {
    kind: 'port',
    id,
    ...ref,
    label: p.name ?? String(p.port),
    description: p.url,
    tooltip,
    contextValue: `port;exposed;${p.visibility};${health};`,
    icon,
    collapsible: 'none',
    children: [],
  };
}

function detectedPortNode(s: SandboxState, d: DetectedPort, id: string): TreeNode {
  const owner = d.processId ? s.processes.find((p) => p.id === d.processId) : undefined;
  const ref = { sandboxId: s.id, port: d.port, ...(d.processId ? { processId: d.processId } : {}) };
  const loopbackOnly = d.address === '127.0.0.1' || d.address === '::1';
  return {
    kind: 'detectedPort',
    id,
    ...ref,
    label: String(d.port),
    description: owner ? `${d.address} · ${shorten(owner.command, 30)}` : d.address,
    tooltip: [
      `**Port ${d.port}** — detected, not exposed`,
      `Listening on ${d.address}:${d.port}${d.pid ? ` (pid ${d.pid})` : ''}${owner ? ` by \`${shorten(owner.command, 80)}\`` : ''}`,
      loopbackOnly ? `Bound to ${d.address} only: a preview cannot reach it. Listen on 0.0.0.0 instead.` : null,
      `[Expose Port](${commandLink('sandboxPorts.exposePort', [ref])})`,
    ]
      .filter((x): x is string => x !== null)
      .join('\n\n'),
    contextValue: `detectedPort;${loopbackOnly ? 'loopback;' : ''}`,
    icon: loopbackOnly ? { id: 'plug', color: 'list.warningForeground' } : { id: 'plug' },
    collapsible: 'none',
    children: [],
  };
}

function tunnelNode(s: SandboxState, t: TunnelInfo): TreeNode {
  const ref = { sandboxId: s.id, port: t.port, url: t.url };
  return {
    kind: 'tunnel',
    id: `${s.id}/tunnel/${t.port}`,
    ...ref,
    label: `tunnel ${t.port}`,
    description: t.url,
    tooltip: [`**Tunnel for port ${t.port}**`, `[${md(t.url)}](${t.url})`, `created ${t.createdAt}`].join('\n\n'),
    contextValue: 'tunnel;up;',
    icon: { id: 'cloud', color: 'charts.blue' },
    collapsible: 'none',
    children: [],
  };
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
