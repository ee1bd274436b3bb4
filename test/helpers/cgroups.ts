/**
 * The cgroup folders a local container host made for a state folder, found as the host finds its
 * place (beside the cgroup of the process that started it), and a way to start a stack inside a
 * memory limit of the test's own, as in a container or a VM with less memory.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { folderOf, parseCgroupMounts, parseProcCgroup } from '../../container/resources/cgroup-paths';
import { hostFolderName } from '../../container/host/limits/cgroups';

export function stateHash(stateDir: string): string {
  return createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 10);
}

function ownCgroups() {
  return { own: parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8')), mounts: parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8')) };
}

/** This process's folder in the v1 memory hierarchy (null without one). */
export function ownV1Folder(controller: string): string | null {
  const { own, mounts } = ownCgroups();
  const mount = mounts.v1.get(controller);
  const p = own.v1.get(controller);
  return mount && p !== undefined ? folderOf(mount, p) : null;
}

/** Every existing cgroup folder of the host with this state folder (its own, and the sandboxes' in it). */
export function hostCgroupFolders(stateDir: string): string[] {
  const name = hostFolderName(stateHash(stateDir));
  const out: string[] = [];
  const { own, mounts } = ownCgroups();
  for (const [controller, mount] of mounts.v1) {
    if (!['memory', 'pids', 'cpu', 'cpuacct'].includes(controller)) continue;
    const here = folderOf(mount, own.v1.get(controller) ?? '/');
    if (here && fs.existsSync(path.join(here, name)) && !out.includes(path.join(here, name))) out.push(path.join(here, name));
  }
  if (mounts.v2 && own.v2 !== null) {
    for (let dir = folderOf(mounts.v2, own.v2); dir && dir.startsWith(mounts.v2.mountPoint); dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, name))) out.push(path.join(dir, name));
      if (dir === mounts.v2.mountPoint) break;
    }
  }
  return out.flatMap((d) => [d, ...fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [path.join(d, e.name)] : []))]);
}

/**
 * Runs `fn` (which starts processes) with this process in a v1 memory cgroup of `limitMiB`, so what
 * it starts stays in it; then moves this process back. Answers the cgroup folder, to remove later.
 */
export async function withinMemoryLimit<T>(limitMiB: number, fn: () => Promise<T>): Promise<{ value: T; folder: string }> {
  const here = ownV1Folder('memory');
  if (!here) throw new Error('no v1 memory hierarchy: this test needs one (these machines have it)');
  const folder = path.join(here, `sandbox-ports-test-limit-${process.pid}`);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'memory.limit_in_bytes'), String(limitMiB * 1024 * 1024));
  fs.writeFileSync(path.join(folder, 'cgroup.procs'), String(process.pid));
  try {
    return { value: await fn(), folder };
  } finally {
    fs.writeFileSync(path.join(here, 'cgroup.procs'), String(process.pid));
  }
}
