/**
 * What the sandbox uses, read from its own cgroup: the same files inside a local sandbox (which
 * sees its cgroup at /sys/fs/cgroup, as a container does), in a plain local process, and in a
 * Cloudflare container. Found once at start from /proc/self/cgroup and mountinfo; where no cgroup
 * can be read (no cgroupfs, macOS) the figures come from what can be seen (limits then null).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ResourceUsage } from '../../worker/protocol/resources';
import { folderOf, parseCgroupMounts, parseProcCgroup, readLimit } from './cgroup-paths';
import { readTextOr } from '../read-text';

/** The files of one cgroup layout; null where it has none. */
export interface CgroupFiles {
  memoryUsage: string | null;
  memoryLimit: string | null;
  memoryStat: string | null;
  /** v1 memory.oom_control or v2 memory.events: both have an `oom_kill N` line. */
  oomEvents: string | null;
  pidsCurrent: string | null;
  pidsMax: string | null;
  /** v1 cpuacct.usage (ns) or v2 cpu.stat (usage_usec). */
  cpuUsage: string | null;
}

/** No cgroup of the sandbox's own to read: its figures are what can be seen without one. */
export const NO_CGROUP: CgroupFiles = { memoryUsage: null, memoryLimit: null, memoryStat: null, oomEvents: null, pidsCurrent: null, pidsMax: null, cpuUsage: null };

/** Where this process's cgroup files are, from the text of /proc/self/cgroup and mountinfo. */
export function locateCgroupFiles(procSelfCgroup: string, mountinfo: string, exists: (file: string) => boolean = fs.existsSync): CgroupFiles {
  const own = parseProcCgroup(procSelfCgroup);
  const mounts = parseCgroupMounts(mountinfo);
  const v1 = (controller: string, file: string): string | null => {
    const mount = mounts.v1.get(controller);
    const p = own.v1.get(controller);
    const dir = mount && p !== undefined ? folderOf(mount, p) : null;
    return dir && exists(path.join(dir, file)) ? path.join(dir, file) : null;
  };
  const memoryV1 = v1('memory', 'memory.usage_in_bytes');
  if (memoryV1) {
    return {
      memoryUsage: memoryV1,
      memoryLimit: v1('memory', 'memory.limit_in_bytes'),
      memoryStat: v1('memory', 'memory.stat'),
      oomEvents: v1('memory', 'memory.oom_control'),
      pidsCurrent: v1('pids', 'pids.current'),
      pidsMax: v1('pids', 'pids.max'),
      cpuUsage: v1('cpuacct', 'cpuacct.usage'),
    };
  }
  const dir = mounts.v2 && own.v2 !== null ? folderOf(mounts.v2, own.v2) : null;
  if (!dir || !exists(path.join(dir, 'memory.current'))) return NO_CGROUP;
  const v2 = (file: string): string | null => (exists(path.join(dir, file)) ? path.join(dir, file) : null);
  return {
    memoryUsage: v2('memory.current'),
    memoryLimit: v2('memory.max'),
    memoryStat: v2('memory.stat'),
    oomEvents: v2('memory.events'),
    pidsCurrent: v2('pids.current'),
    pidsMax: v2('pids.max'),
    cpuUsage: v2('cpu.stat'),
  };
}

/** `name value` lines (memory.stat, memory.events, cpu.stat, oom_control) as numbers. */
export function keyedNumbers(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** Memory in use without the file cache the kernel can drop (v1 names it total_inactive_file). */
export function memoryInUse(usage: number, stat: Map<string, number>): number {
  const inactive = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
  return Math.max(0, usage - inactive);
}

/** CPU seconds from cpuacct.usage (nanoseconds) or cpu.stat's usage_usec. */
export function cpuSeconds(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) / 1e9;
  return (keyedNumbers(t).get('usage_usec') ?? 0) / 1e6;
}

/** How long a disk count is reused: walking a large workspace is not free. */
const DISK_COUNT_TTL_MS = 3000;
/** A walk stops counting after this many entries (the figure is then a lower bound). */
const DISK_COUNT_MAX_ENTRIES = 200_000;

export class ResourceReader {
  private readonly files: CgroupFiles;
  private disk: { bytes: number; partial: boolean; at: number } | null = null;
  private counting: Promise<void> | null = null;

  /** @param diskFolders the folders whose files count as the sandbox's disk (its workspace, and its own /tmp and HOME) */
  constructor(
    private readonly diskFolders: string[],
    files?: CgroupFiles,
  ) {
    this.files = files ?? locateCgroupFiles(readTextOr('/proc/self/cgroup'), readTextOr('/proc/self/mountinfo'));
  }

  /** True when the sandbox's cgroup was found: its limits and kills can be read. */
  get limited(): boolean {
    return this.files.memoryUsage !== null;
  }

  /** The memory limit in bytes, or null. */
  memoryLimit(): number | null {
    return readLimit(readTextOr(this.files.memoryLimit));
  }

  /** How often the kernel killed one of the sandbox's processes for memory. */
  oomKills(): number {
    return keyedNumbers(readTextOr(this.files.oomEvents)).get('oom_kill') ?? 0;
  }

  /** Memory, tasks and kills: cheap (a few small files), for the periodic check. */
  quick(): Omit<ResourceUsage, 'disk'> {
    const usage = Number(readTextOr(this.files.memoryUsage).trim()) || 0;
    return {
      memory: { used: memoryInUse(usage, keyedNumbers(readTextOr(this.files.memoryStat))), limit: this.memoryLimit() },
      processes: { count: Number(readTextOr(this.files.pidsCurrent).trim()) || 0, limit: readLimit(readTextOr(this.files.pidsMax)) },
      cpu: { seconds: Math.round(cpuSeconds(readTextOr(this.files.cpuUsage)) * 1000) / 1000 },
      oomKills: this.oomKills(),
      at: new Date().toISOString(),
    };
  }

  /** Memory, tasks and kills now, with the disk as last counted (0 before the first count). */
  cached(): ResourceUsage {
    const disk = this.disk;
    return { ...this.quick(), disk: disk?.partial ? { used: disk.bytes, partial: true } : { used: disk?.bytes ?? 0 } };
  }

  /**
   * Everything, at once: the disk as last counted, counted again in the background when that count
   * is older than a few seconds (so a reading never waits for a walk of a large workspace).
   */
  read(): ResourceUsage {
    if (this.disk && Date.now() - this.disk.at > DISK_COUNT_TTL_MS) this.countDisk();
    return this.cached();
  }

  /** Counts the disk in the background (the agent starts one as it starts). */
  countDisk(): void {
    this.counting ??= countBytes(this.diskFolders)
      .then((count) => {
        this.disk = { ...count, at: Date.now() };
      })
      .catch(() => {})
      .finally(() => (this.counting = null));
  }
}

/** Bytes of the regular files under `folders` (each file once, symlinks not followed); partial past the entry cap. */
async function countBytes(folders: string[]): Promise<{ bytes: number; partial: boolean }> {
  let bytes = 0;
  let entries = 0;
  const seen = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    let list: fs.Dirent[];
    try {
      list = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      if (++entries > DISK_COUNT_MAX_ENTRIES) return;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        try {
          const st = await fs.promises.lstat(p);
          // Only a file with several names can be met twice.
          const id = st.nlink > 1 ? `${st.dev}:${st.ino}` : null;
          if (id === null || !seen.has(id)) bytes += st.blocks * 512;
          if (id !== null) seen.add(id);
        } catch {
          /* gone meanwhile */
        }
      }
    }
  };
  for (const f of folders) await walk(f);
  return { bytes, partial: entries > DISK_COUNT_MAX_ENTRIES };
}
