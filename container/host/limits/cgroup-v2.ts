/**
 * cgroup v2: one tree. This host's folder is a child of the nearest cgroup above its own that it
 * may write and that hands the controllers down (the root when the host runs as root at the top;
 * the delegated subtree systemd gives a user session otherwise): a cgroup with processes in it
 * cannot give controllers to children, so the host's own cgroup is never the parent. Each sandbox
 * gets memory.max (and memory.swap.max 0), pids.max and cpu.weight.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HostCapacity, SandboxResources } from '../../../worker/protocol/resources';
import { readLimit } from '../../resources/cgroup-paths';
import type { CgroupDriver, SandboxCgroup } from './cgroups';
import { emptyAndRemove, readText, writeOptional, writeSetting } from './cgroup-files';

export const V2_REQUIRED = ['memory', 'pids'] as const;
/** Without it sandboxes still get memory and task limits; only CPU weights are missing. */
export const V2_OPTIONAL = ['cpu'] as const;

const MiB = 1024 * 1024;

/** cpu.weight for a vCPU count: 100 (the default weight) per CPU, within the kernel's 1–10000. */
export function cpuWeight(vcpu: number): number {
  return Math.min(10000, Math.max(1, Math.round(vcpu * 100)));
}

export class CgroupV2 implements CgroupDriver {
  readonly kind = 'cgroup2' as const;

  /**
   * @param mountPoint where the cgroup2 tree is mounted
   * @param base this host's folder, below a cgroup that delegates `controllers` to it
   */
  constructor(
    private readonly mountPoint: string,
    private readonly base: string,
    private readonly controllers: string[],
    private readonly memTotalMiB: number,
    private readonly cpus: number,
  ) {}

  prepare(name: string): string[] {
    if (!fs.existsSync(this.base)) {
      fs.mkdirSync(this.base, { recursive: true });
      // The host's folder holds no process, so it may pass the controllers on to each sandbox's.
      writeSetting(this.base, 'cgroup.subtree_control', this.controllers.map((c) => `+${c}`).join(' '));
    }
    fs.mkdirSync(path.join(this.base, name), { recursive: true });
    return [path.join(this.base, name, 'cgroup.procs')];
  }

  rename(from: string, to: string): void {
    fs.renameSync(path.join(this.base, from), path.join(this.base, to));
  }

  create(key: string, r: SandboxResources): SandboxCgroup {
    this.prepare(key);
    const dir = path.join(this.base, key);
    writeSetting(dir, 'memory.max', r.memoryMiB * MiB);
    writeOptional(dir, 'memory.swap.max', 0);
    writeSetting(dir, 'pids.max', r.processes);
    if (this.controllers.includes('cpu')) writeSetting(dir, 'cpu.weight', cpuWeight(r.vcpu));
    return { procsFiles: [path.join(dir, 'cgroup.procs')], views: [{ hostDir: dir, inside: '/sys/fs/cgroup' }] };
  }

  async remove(key: string): Promise<void> {
    await emptyAndRemove(path.join(this.base, key));
  }

  async removeAll(): Promise<void> {
    await emptyAndRemove(this.base);
  }

  capacity(): HostCapacity {
    // The tightest memory.max from this host's folder up to the top of the tree.
    let memoryMiB = this.memTotalMiB;
    for (let dir = path.dirname(this.base); dir.startsWith(this.mountPoint) && dir !== this.mountPoint; dir = path.dirname(dir)) {
      const limit = readLimit(readText(path.join(dir, 'memory.max')));
      if (limit !== null) memoryMiB = Math.min(memoryMiB, Math.floor(limit / MiB));
    }
    return { memoryMiB, vcpu: this.cpus };
  }
}
