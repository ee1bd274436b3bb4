/**
 * How the local container host isolates a sandbox on Linux, as command lines: bubblewrap gives the
 * agent (and everything it starts) namespaces of its own — mounts, pids, network, uts, ipc — with
 * `/workspace` bound to the sandbox's folder, the host's system folders read-only, a private
 * `/tmp`, and nothing else of the host; pasta, attached to the sandbox's network namespace, gives
 * it outbound network and nothing inbound. The agent's IPC channel (a Unix socket pair that only
 * the host holds) is the one door in: port-handoff.ts. Pure: the caller looks at the disk and
 * runs them.
 */
import { AGENT_ENV } from '../../worker/protocol/agent';
import { CONTROL_PORT } from '../../worker/protocol/ports';
import type { EtcOverlay } from './sandbox-etc';
import type { SandboxUser } from './sandbox-users';

export type IsolationMode = 'namespaces' | 'none';

/** Where things are inside a sandbox. */
export const INSIDE = {
  workspace: '/workspace',
  /** The agent's Node and the tools the host lends (cloudflared); last on PATH. */
  bin: '/opt/sandbox-ports/bin',
  agent: '/opt/sandbox-ports/agent.js',
  home: '/root',
} as const;

/** The host's system folders a sandbox sees, read-only (or as the same symlink, on merged /usr). */
export const SYSTEM_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

export const SANDBOX_PATH = `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${INSIDE.bin}`;

/** What the caller found on disk for one system path. */
export type SystemEntry = { path: string; symlink: string } | { path: string; dir: true };

export interface SandboxLayout {
  sandboxId: string;
  /** Host folder that is the sandbox's /workspace. */
  workspace: string;
  nodeBinary: string;
  agentScript: string;
  system: SystemEntry[];
  /** Host files lent read-only as INSIDE.bin/<name> (e.g. cloudflared). */
  tools: Record<string, string>;
  /**
   * When the host runs as root: the sandbox's own user. bubblewrap then makes no user namespace
   * (root makes the others without one, and mounts what only root may reach), and the agent
   * drops to this user before it does anything else (AGENT_ENV.RUN_AS).
   */
  user: SandboxUser | null;
  /** The sandbox's files laid over /etc (sandbox-etc.ts). */
  etc: EtcOverlay;
  /** Size of /tmp and of HOME, each, in MiB; unbounded when absent. */
  tmpMiB?: number;
  /** The sandbox's cgroup folders, shown read-only where a container has them. */
  cgroupViews: { hostDir: string; inside: string }[];
}

/** The folders of INSIDE.bin and INSIDE.agent, made readable by everyone inside. */
const OPEN_FOLDERS = ['/opt', '/opt/sandbox-ports', INSIDE.bin];

/** What bubblewrap runs inside: the agent, by the paths it has there. */
export const AGENT_COMMAND = [`${INSIDE.bin}/node`, INSIDE.agent];

/**
 * bubblewrap's options for a sandbox's agent (passed on a pipe with `--args`, so pid 1's command
 * line inside names no host path; AGENT_COMMAND follows them); `infoFd` gets bwrap's JSON with
 * child-pid.
 */
export function bwrapArgs(layout: SandboxLayout, infoFd: number): string[] {
  const args = layout.user
    ? ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session']
    : ['--unshare-all', '--die-with-parent', '--new-session'];
  for (const entry of layout.system) {
    if ('symlink' in entry) args.push('--symlink', entry.symlink, entry.path);
    else args.push('--ro-bind', entry.path, entry.path);
  }
  for (const { hostFile, inside } of layout.etc) args.push('--ro-bind', hostFile, inside);
  // bwrap makes the folders above a mount point 0700: out of reach of a sandbox's own user.
  for (const dir of OPEN_FOLDERS) args.push('--perms', '0755', '--dir', dir);
  args.push('--ro-bind', layout.nodeBinary, `${INSIDE.bin}/node`, '--ro-bind', layout.agentScript, INSIDE.agent);
  for (const [name, hostPath] of Object.entries(layout.tools)) args.push('--ro-bind', hostPath, `${INSIDE.bin}/${name}`);
  const size = layout.tmpMiB ? ['--size', String(layout.tmpMiB * 1024 * 1024)] : [];
  args.push('--bind', layout.workspace, INSIDE.workspace, '--proc', '/proc', '--dev', '/dev');
  args.push('--perms', '01777', ...size, '--tmpfs', '/tmp', '--perms', '0700', ...size, '--tmpfs', INSIDE.home);
  if (layout.cgroupViews.length > 0) {
    for (const dir of ['/sys', '/sys/fs', '/sys/fs/cgroup']) args.push('--perms', '0755', '--dir', dir);
    for (const view of layout.cgroupViews) args.push('--ro-bind', view.hostDir, view.inside);
  }
  args.push('--hostname', layout.sandboxId, '--chdir', INSIDE.workspace, '--info-fd', String(infoFd));
  return args;
}

/**
 * bwrap's options that give the agent exactly `env` (bwrap's own environment is only what finds
 * it), and the Node IPC channel its parent opened at fd 3.
 */
export function envArgs(env: NodeJS.ProcessEnv): string[] {
  const out = ['--clearenv'];
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out.push('--setenv', name, value);
  out.push('--setenv', 'NODE_CHANNEL_FD', '3', '--setenv', 'NODE_CHANNEL_SERIALIZATION_MODE', 'json');
  return out;
}

/**
 * The agent's own environment inside: the settings that place it in the sandbox's view. (The
 * secret, the sandbox's env and the forwarded settings are added by the supervisor as for a
 * plain agent.)
 */
export function insideSettings(sandboxId: string, tools: Record<string, string>, user: SandboxUser | null): Record<string, string> {
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: INSIDE.home,
    [AGENT_ENV.PORT]: String(CONTROL_PORT),
    [AGENT_ENV.BIND]: '0.0.0.0',
    [AGENT_ENV.WORKSPACE]: INSIDE.workspace,
    [AGENT_ENV.SANDBOX_ID]: sandboxId,
    [AGENT_ENV.OWN_VIEW]: '1',
  };
  if (tools.cloudflared) env[AGENT_ENV.CLOUDFLARED] = `${INSIDE.bin}/cloudflared`;
  if (user) env[AGENT_ENV.RUN_AS] = `${user.uid}:${user.gid}`;
  return env;
}

/**
 * pasta attached to the network namespace of `pid`: outbound TCP/UDP and DNS through the host,
 * no port of the sandbox forwarded to the host (-t/-u none), none of the host's loopback
 * services reachable from inside (-T/-U none, --no-map-gw). Runs in the foreground so its parent
 * can stop it; `--runas 0` because pasta as root otherwise switches to nobody, who may not enter
 * the namespace. A sandbox that root made without a user namespace is joined by its network
 * namespace's path alone (pasta may not enter the user namespace of a process it does not own
 * once it dropped its capabilities).
 */
export function pastaArgs(pid: number, ownUserNamespace = true): string[] {
  const target = ownUserNamespace ? [String(pid)] : ['--netns', `/proc/${pid}/ns/net`];
  return ['--runas', '0', '--config-net', '--quiet', '--foreground', '--no-map-gw', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', ...target];
}

/**
 * Which pasta to run. On x86-64, passt's own start re-executes the program as its AVX2 build
 * (`<its path>.avx2`) when the CPU has AVX2; naming that build directly saves one exec on every
 * sandbox start, while the agent is booting beside it (create → first exec ~7 ms faster here).
 * `avx2Build` is the installed pasta's own `.avx2` sibling, or null where there is none.
 */
export function pastaCommand(avx2Build: string | null, cpuinfo: string): string {
  const hasAvx2 = /^flags\s*:.*\bavx2\b/m.test(cpuinfo);
  return avx2Build && hasAvx2 ? avx2Build : 'pasta';
}

/** True once /proc/<pid>/net/route (that namespace's routes) has a default route: pasta is done. */
export function hasDefaultRoute(routeTable: string): boolean {
  return routeTable
    .split('\n')
    .slice(1)
    .some((line) => line.split(/\s+/)[1] === '00000000');
}
