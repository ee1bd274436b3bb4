/**
 * When the local host runs as root, a sandbox's agent starts as root inside the sandbox's
 * namespaces (bubblewrap needs no user namespace then, and can mount what only root may reach)
 * and becomes the sandbox's own user before it does anything else: every process of the sandbox
 * runs as that user, never as root. Its HOME, a fresh tmpfs root made, is given to that user first.
 */
import fs from 'node:fs';

export interface RunAs {
  uid: number;
  gid: number;
}

/** `uid:gid` (AGENT_ENV.RUN_AS); null when unset. */
export function parseRunAs(raw: string | undefined): RunAs | null {
  if (raw === undefined || raw === '') return null;
  const m = /^(\d+):(\d+)$/.exec(raw);
  if (!m || Number(m[1]) === 0) throw new Error(`SANDBOX_RUN_AS must be uid:gid of a user other than root (got '${raw}')`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** Becomes `user` for good (supplementary groups dropped, group then user); throws if anything is left of root. */
export function becomeUser(user: RunAs, home: string | undefined): void {
  if (process.getuid?.() === 0) {
    if (home) fs.chownSync(home, user.uid, user.gid);
    process.setgroups!([]);
    process.setgid!(user.gid);
    process.setuid!(user.uid);
  }
  if (process.getuid?.() !== user.uid || process.geteuid?.() !== user.uid || process.getgid?.() !== user.gid) {
    throw new Error(`could not become uid ${user.uid}`);
  }
}
