/**
 * Decides, once at start, how this host limits its sandboxes: cgroup v2 where it may write a
 * subtree that hands the controllers down, cgroup v1 where the memory, pids and cpu hierarchies
 * are writable (root), otherwise not at all (and why). Reads /proc and the cgroup mounts; the
 * choice itself is made from their text, so a test can lay out a tree of its own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostCapacity } from '../../../worker/protocol/resources';
import { folderOf, memTotalMiB, parseCgroupMounts, parseProcCgroup, type CgroupMount } from '../../resources/cgroup-paths';
import { hostFolderName, type CgroupDriver } from './cgroups';
import { CgroupV1, V1_COUNTING, V1_REQUIRED, type V1Hierarchy } from './cgroup-v1';
import { CgroupV2, V2_OPTIONAL, V2_REQUIRED } from './cgroup-v2';
import type { RemoveFolder } from './cgroup-files';
import { readTextOr } from '../../read-text';

/** SANDBOX_LIMITS: `auto` (the default) limits where it can; `none` never does. */
export const LIMITS_ENV = 'SANDBOX_LIMITS';

export interface LimitsSupport {
  driver: CgroupDriver | null;
  kind: 'cgroup2' | 'cgroup1' | 'none';
  /** Why sandboxes are not limited, when kind is 'none'. */
  reason?: string;
  /** The most a sandbox can get here (checked whether or not limits are enforced). */
  capacity: HostCapacity;
}

export interface ProbeInput {
  requested: string;
  platform: string;
  procSelfCgroup: string;
  mountinfo: string;
  meminfo: string;
  cpus: number;
  /** Names this host's folder (one per state folder). */
  stateHash: string;
  /** How a cgroup folder is removed (rmdir; a test's folder laid out as a tree needs a recursive remove). */
  removeFolder?: RemoveFolder;
}

export function readProbeInput(stateHash: string, env: NodeJS.ProcessEnv = process.env): ProbeInput {
  const read = (file: string) => readTextOr(file);
  return {
    requested: env[LIMITS_ENV] ?? 'auto',
    platform: process.platform,
    procSelfCgroup: read('/proc/self/cgroup'),
    mountinfo: read('/proc/self/mountinfo'),
    meminfo: read('/proc/meminfo'),
    cpus: os.availableParallelism(),
    stateHash,
  };
}

export function probeLimits(input: ProbeInput): LimitsSupport {
  if (input.requested !== 'auto' && input.requested !== 'none') throw new Error(`${LIMITS_ENV} must be auto or none (got '${input.requested}')`);
  const memTotal = memTotalMiB(input.meminfo) ?? Math.floor(os.totalmem() / (1024 * 1024));
  const capacity = { memoryMiB: memTotal, vcpu: input.cpus };
  const none = (reason: string): LimitsSupport => ({ driver: null, kind: 'none', reason, capacity });
  if (input.requested === 'none') return none(`${LIMITS_ENV}=none`);
  if (input.platform !== 'linux') return none(`cgroups need Linux (this is ${input.platform})`);
  const own = parseProcCgroup(input.procSelfCgroup);
  const mounts = parseCgroupMounts(input.mountinfo);
  const folder = hostFolderName(input.stateHash);

  const v2 = mounts.v2 && own.v2 !== null ? v2Driver(mounts.v2, own.v2, folder, memTotal, input.cpus, input.removeFolder) : null;
  if (v2) return { driver: v2, kind: 'cgroup2', capacity: v2.capacity() };
  const v1 = v1Driver(mounts.v1, own.v1, folder, memTotal, input.cpus, input.removeFolder);
  if (v1) return { driver: v1, kind: 'cgroup1', capacity: v1.capacity() };

  if (mounts.v1.has('memory')) return none(`cgroup v1's memory, pids and cpu hierarchies are not all mounted and writable here (they are for root)`);
  if (mounts.v2) {
    return none('no cgroup v2 folder this host may write hands down the memory and pids controllers (run as root, or in a systemd user session, which delegates them)');
  }
  return none('no cgroup filesystem is mounted');
}

function writable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function words(file: string): string[] {
  return readTextOr(file).trim().split(/\s+/).filter(Boolean);
}

/**
 * The nearest cgroup at or above the host's own that may hold this host's folder: the root of the
 * tree (exempt from the rule that a cgroup with processes gives children no controllers), or an
 * ancestor the host may write whose controllers include memory and pids and can be handed down.
 */
function v2Driver(mount: CgroupMount, ownPath: string, folder: string, memTotal: number, cpus: number, removeFolder?: RemoveFolder): CgroupV2 | null {
  const own = folderOf(mount, ownPath);
  if (!own) return null;
  const wanted = [...V2_REQUIRED, ...V2_OPTIONAL];
  for (let dir = own === mount.mountPoint ? own : path.dirname(own); dir.startsWith(mount.mountPoint); dir = path.dirname(dir)) {
    const available = words(path.join(dir, 'cgroup.controllers'));
    const controllers = wanted.filter((c) => available.includes(c));
    if (V2_REQUIRED.every((c) => controllers.includes(c)) && writable(dir) && writable(path.join(dir, 'cgroup.procs'))) {
      const delegated = words(path.join(dir, 'cgroup.subtree_control'));
      const missing = controllers.filter((c) => !delegated.includes(c));
      try {
        if (missing.length > 0) fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
        return new CgroupV2(mount.mountPoint, path.join(dir, folder), controllers, memTotal, cpus, removeFolder);
      } catch {
        /* this one cannot hand them down (it has processes of its own): try further up */
      }
    }
    if (dir === mount.mountPoint) break;
  }
  return null;
}

function v1Driver(mounts: Map<string, CgroupMount>, own: Map<string, string>, folder: string, memTotal: number, cpus: number, removeFolder?: RemoveFolder): CgroupV1 | null {
  const hierarchies: V1Hierarchy[] = [];
  for (const controller of [...V1_REQUIRED, V1_COUNTING]) {
    const mount = mounts.get(controller);
    const ownPath = own.get(controller);
    const here = mount && ownPath !== undefined ? folderOf(mount, ownPath) : null;
    if (!mount || !here || !writable(here)) {
      if (controller === V1_COUNTING) continue;
      return null;
    }
    if (hierarchies.some((h) => h.controllers.includes(controller))) continue;
    hierarchies.push({ controllers: mount.controllers, base: path.join(here, folder), name: path.basename(mount.mountPoint) });
  }
  return new CgroupV1(hierarchies, memTotal, cpus, removeFolder);
}
