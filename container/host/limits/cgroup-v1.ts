/**
 * cgroup v1: one hierarchy per controller (memory, pids, cpu, cpuacct; some machines mount cpu and
 * cpuacct as one). Each sandbox gets a folder in each, under this host's own folder beside the
 * host's cgroup: memory.limit_in_bytes (and memsw, so swap does not extend it), pids.max,
 * cpu.shares, and cpuacct counting the CPU time it used.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiB, type HostCapacity, type SandboxResources } from '../../../worker/protocol/resources';
import type { CgroupDriver, SandboxCgroup } from './cgroups';
import { emptyAndRemove, writeOptional, writeSetting, type RemoveFolder } from './cgroup-files';
import { readTextOr } from '../../read-text';

/** The controllers a v1 machine must have for limits, and the one that only counts. */
export const V1_REQUIRED = ['memory', 'pids', 'cpu'] as const;
export const V1_COUNTING = 'cpuacct';

/** One mounted hierarchy: its controllers, this host's folder in it, and the mount's name. */
export interface V1Hierarchy {
  controllers: string[];
  base: string;
  /** The mount's own name (`memory`, `cpu,cpuacct`): the sandbox sees its folder at /sys/fs/cgroup/<name>. */
  name: string;
}

/** cpu.shares for a vCPU count: 1024 per CPU, as the kernel weighs a task of nice 0. */
export function cpuShares(vcpu: number): number {
  return Math.max(2, Math.round(vcpu * 1024));
}

export class CgroupV1 implements CgroupDriver {
  readonly kind = 'cgroup1' as const;
  readonly renames = true;

  constructor(
    private readonly hierarchies: V1Hierarchy[],
    private readonly memTotalMiB: number,
    private readonly cpus: number,
    private readonly removeFolder?: RemoveFolder,
  ) {}

  private folder(controller: string, key: string): string {
    const h = this.hierarchies.find((x) => x.controllers.includes(controller));
    if (!h) throw new Error(`no ${controller} hierarchy`);
    return path.join(h.base, key);
  }

  prepare(name: string): string[] {
    for (const h of this.hierarchies) fs.mkdirSync(path.join(h.base, name), { recursive: true });
    return this.hierarchies.map((h) => path.join(h.base, name, 'cgroup.procs'));
  }

  rename(from: string, to: string): void {
    for (const h of this.hierarchies) fs.renameSync(path.join(h.base, from), path.join(h.base, to));
  }

  create(key: string, r: SandboxResources): SandboxCgroup {
    this.prepare(key);
    const memory = this.folder('memory', key);
    const bytes = r.memoryMiB * MiB;
    // memsw may never be below the plain limit: raise it first when the limit grows.
    const current = Number(readTextOr(path.join(memory, 'memory.limit_in_bytes')).trim());
    if (!(bytes <= current)) writeOptional(memory, 'memory.memsw.limit_in_bytes', bytes);
    writeSetting(memory, 'memory.limit_in_bytes', bytes);
    writeOptional(memory, 'memory.memsw.limit_in_bytes', bytes);
    writeSetting(this.folder('pids', key), 'pids.max', r.processes);
    writeSetting(this.folder('cpu', key), 'cpu.shares', cpuShares(r.vcpu));
    return {
      procsFiles: this.hierarchies.map((h) => path.join(h.base, key, 'cgroup.procs')),
      views: this.hierarchies.map((h) => ({ hostDir: path.join(h.base, key), inside: `/sys/fs/cgroup/${h.name}` })),
    };
  }

  async remove(key: string): Promise<void> {
    for (const h of this.hierarchies) await emptyAndRemove(path.join(h.base, key), this.removeFolder);
  }

  async removeAll(): Promise<void> {
    for (const h of this.hierarchies) await emptyAndRemove(h.base, this.removeFolder);
  }

  capacity(): HostCapacity {
    // The host's own cgroup's hierarchical_memory_limit is the tightest limit above it.
    const hostCgroup = path.dirname(path.dirname(this.folder('memory', 'x')));
    const stat = readTextOr(path.join(hostCgroup, 'memory.stat'));
    const m = /^hierarchical_memory_limit\s+(\d+)/m.exec(stat);
    const above = m && Number(m[1]) < 2 ** 62 ? Math.floor(Number(m[1]) / MiB) : Infinity;
    return { memoryMiB: Math.min(this.memTotalMiB, above), vcpu: this.cpus };
  }
}
