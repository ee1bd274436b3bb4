/**
 * Limits on what a sandbox uses, by the kernel: one cgroup per sandbox, under a folder of this host's
 * own (named for its state folder, so two stacks side by side never touch each other's). Two
 * drivers give the same interface: cgroup v2 (cgroup-v2.ts) where the host may write a subtree,
 * cgroup v1 (cgroup-v1.ts) where that is what the machine has; cgroup-probe.ts picks one.
 */
import type { HostCapacity, SandboxResources } from '../../../worker/protocol/resources';

/** A sandbox's cgroup, as the launch needs it. */
export interface SandboxCgroup {
  /** The `cgroup.procs` files a process writes its pid to, to join (one per hierarchy). */
  procsFiles: string[];
  /** The cgroup's folders and where the sandbox sees them (read-only), so it can read its own limits. */
  views: { hostDir: string; inside: string }[];
}

export interface CgroupDriver {
  readonly kind: 'cgroup1' | 'cgroup2';
  /** Whether a cgroup can be renamed with what is in it (v1 only: the kernel renames no v2 cgroup). */
  readonly renames: boolean;
  /** Makes a cgroup with no limits yet (a warm entry waits in one: warm-entry.ts); answers its cgroup.procs files. */
  prepare(name: string): string[];
  /** Gives a prepared cgroup (with what is in it) another name; only where `renames`. */
  rename(from: string, to: string): void;
  /** Makes the sandbox's cgroup (or takes the one of that name) with these limits. */
  create(key: string, resources: SandboxResources): SandboxCgroup;
  /** Kills whatever still runs in it and removes it. */
  remove(key: string): Promise<void>;
  /** Removes every cgroup of this host's folder: what an earlier run left when it was killed, or all at the end. */
  removeAll(): Promise<void>;
  /** The most memory and CPUs a sandbox can get here. */
  capacity(): HostCapacity;
}

/** The cgroup folder name of this host's sandboxes: one per state folder. */
export function hostFolderName(stateHash: string): string {
  return `sandbox-ports-${stateHash}`;
}
