/**
 * cgroup v2: one tree. This host's folder is a child of the nearest cgroup above its own that it
 * may write and that hands the controllers down (the root when the host runs as root at the top;
 * the delegated subtree systemd gives a user session otherwise): a cgroup with processes in it
 * cannot give controllers to children, so the host's own cgroup is never the parent. Each sandbox
 * gets memory.max (and memory.swap.max 0), pids.max and cpu.weight.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiB, type HostCapacity, type SandboxResources } from '../../../worker/protocol/resources';
import { readLimit } from '../../resources/cgroup-paths';
import type { CgroupDriver, SandboxCgroup } from './cgroups';
import { emptyAndRemove, writeOptional, writeSetting, type RemoveFolder } from './cgroup-files';
import { readTextOr } from '../../read-text';

export const V2_REQUIRED = ['memory', 'pids'] as const;
/** Without it sandboxes still get memory and task limits; only CPU weights are missing. */
export const V2_OPTIONAL = ['cpu'] as const;

/** cpu.weight for a vCPU count: 100 (the default weight) per CPU, within the kernel's 1–10000. */
export function cpuWeight(vcpu: number): number {
  return Math.min(10000, Math.max(1, Math.round(vcpu * 100)));
}

export class CgroupV2 implements CgroupDriver {
  readonly kind = 'cgroup2' as const;
  readonly renames = false;

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
    private readonly removeFolder?: RemoveFolder,
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

  rename(): void {
    throw new Error('cgroup v2 cannot rename a cgroup');
  }

  /**
   * The limits are set on the sandbox's cgroup and, for it to read, on a leaf `run` inside, where
   * its processes live: the root of its cgroup namespace is then `run`, so nothing inside can reach
   * the cgroup that holds the limits it is kept to (its user owns a delegated subtree).
   */
  create(key: string, r: SandboxResources): SandboxCgroup {
    this.prepare(key);
    const dir = path.join(this.base, key);
    const run = path.join(dir, 'run');
    this.limit(dir, r);
    writeSetting(dir, 'cgroup.subtree_control', this.controllers.map((c) => `+${c}`).join(' '));
    fs.mkdirSync(run, { recursive: true });
    this.limit(run, r);
    return { procsFiles: [path.join(run, 'cgroup.procs')], views: [{ hostDir: run, inside: '/sys/fs/cgroup' }] };
  }

  private limit(dir: string, r: SandboxResources): void {
    writeSetting(dir, 'memory.max', r.memoryMiB * MiB);
    writeOptional(dir, 'memory.swap.max', 0);
    writeSetting(dir, 'pids.max', r.processes);
    if (this.controllers.includes('cpu')) writeSetting(dir, 'cpu.weight', cpuWeight(r.vcpu));
  }

  async remove(key: string): Promise<void> {
    await emptyAndRemove(path.join(this.base, key), this.removeFolder);
  }

  async removeAll(): Promise<void> {
    await emptyAndRemove(this.base, this.removeFolder);
  }

  capacity(): HostCapacity {
    // The tightest memory.max from this host's folder up to the top of the tree.
    let memoryMiB = this.memTotalMiB;
    for (let dir = path.dirname(this.base); dir.startsWith(this.mountPoint) && dir !== this.mountPoint; dir = path.dirname(dir)) {
      const limit = readLimit(readTextOr(path.join(dir, 'memory.max')));
      if (limit !== null) memoryMiB = Math.min(memoryMiB, Math.floor(limit / MiB));
    }
    return { memoryMiB, vcpu: this.cpus };
  }
}
