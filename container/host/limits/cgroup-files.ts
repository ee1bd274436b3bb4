/** File operations both cgroup drivers share: writing a setting, and emptying and removing a cgroup. */
import fs from 'node:fs';
import path from 'node:path';
import { readTextOr } from '../../read-text';

/** How long a removal waits for killed tasks to leave their cgroup. */
const REMOVE_WAIT_MS = 3000;

export function writeSetting(dir: string, file: string, value: string | number): void {
  fs.writeFileSync(path.join(dir, file), String(value));
}

/** Writes a setting that not every kernel has (memsw, swap); absent is fine. */
export function writeOptional(dir: string, file: string, value: string | number): void {
  try {
    writeSetting(dir, file, value);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function pidsIn(dir: string): number[] {
  return readTextOr(path.join(dir, 'cgroup.procs'))
    .split('\n')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

function childFolders(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

/** How a cgroup folder goes: rmdir on cgroupfs (a test's stand-in folder needs more). */
export type RemoveFolder = (dir: string) => void;

/**
 * SIGKILLs every task in `dir` and below, then removes the folders, deepest first. Killed tasks
 * leave a cgroup only once the kernel has torn them down, so the removal is retried for a while.
 */
export async function emptyAndRemove(dir: string, removeFolder: RemoveFolder = fs.rmdirSync): Promise<void> {
  for (const child of childFolders(dir)) await emptyAndRemove(child, removeFolder);
  const deadline = Date.now() + REMOVE_WAIT_MS;
  for (;;) {
    // cgroup v2's cgroup.kill ends them all at once, forks in flight included; v1 has only kill(2).
    if (fs.existsSync(path.join(dir, 'cgroup.kill'))) writeOptional(dir, 'cgroup.kill', 1);
    for (const pid of pidsIn(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    try {
      removeFolder(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if ((code !== 'EBUSY' && code !== 'ENOTEMPTY') || Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
