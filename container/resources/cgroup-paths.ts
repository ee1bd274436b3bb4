/**
 * Where a process's cgroups are, from /proc/self/cgroup and /proc/self/mountinfo: the same reading
 * for the host (placing its sandboxes' cgroups) and for the agent (reading its own, inside a
 * sandbox, in a plain process, or in a Cloudflare container). Pure.
 */

/** Where this process sits in each hierarchy, from /proc/self/cgroup. */
export interface OwnCgroups {
  /** v1: controller → path (a line `4:memory:/a/b`; comounted controllers each get the path). */
  v1: Map<string, string>;
  /** v2: the path of the `0::/a/b` line, when there is one. */
  v2: string | null;
}

export function parseProcCgroup(text: string): OwnCgroups {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else for (const c of m[2]!.split(',')) if (c) v1.set(c, m[3]!);
  }
  return { v1, v2 };
}

export interface CgroupMount {
  mountPoint: string;
  /** The part of the hierarchy the mount shows (`/` unless the mount is of a subtree). */
  root: string;
  /** v1 controllers of the mount (empty for cgroup2). */
  controllers: string[];
}

/** cgroup and cgroup2 mounts from /proc/self/mountinfo. */
export function parseCgroupMounts(mountinfo: string): { v1: Map<string, CgroupMount>; v2: CgroupMount | null } {
  const v1 = new Map<string, CgroupMount>();
  let v2: CgroupMount | null = null;
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mountpoint options [optional fields] - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fstype, , superOptions = ''] = right.split(' ');
    const root = unescapeMount(fields[3] ?? '/');
    const mountPoint = unescapeMount(fields[4] ?? '');
    if (fstype === 'cgroup2') v2 ??= { mountPoint, root, controllers: [] };
    else if (fstype === 'cgroup') {
      const controllers = superOptions.split(',').filter((o) => ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'blkio', 'devices', 'freezer'].includes(o));
      const mount = { mountPoint, root, controllers };
      for (const c of controllers) if (!v1.has(c)) v1.set(c, mount);
    }
  }
  return { v1, v2 };
}

/** mountinfo writes spaces, tabs, newlines and backslashes as octal escapes. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The folder of `path` (a /proc/self/cgroup path) on `mount`, or null when the mount does not show it. */
export function folderOf(mount: CgroupMount, path: string): string | null {
  const root = mount.root === '/' ? '' : mount.root;
  if (root && path !== root && !path.startsWith(`${root}/`)) return null;
  const rel = path.slice(root.length).replace(/^\/+/, '');
  return rel ? `${mount.mountPoint}/${rel}` : mount.mountPoint;
}

/** MemTotal of /proc/meminfo, in MiB. */
export function memTotalMiB(meminfo: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Math.floor(Number(m[1]) / 1024) : null;
}

/** A limit file's value in bytes: null for `max` or v1's "no limit" (a number near 2^63). */
export function readLimit(text: string): number | null {
  const t = text.trim();
  if (t === '' || t === 'max') return null;
  const n = Number(t);
  if (!Number.isFinite(n) || n >= 2 ** 62) return null;
  return n;
}
