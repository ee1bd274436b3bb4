/**
 * When the host runs as root, each sandbox's processes run as a user id of their own, never root:
 * nothing of the host that only root may read is readable from a sandbox, and no sandbox owns
 * another's files. The ids come from the top of the range systemd sets aside for containers'
 * users (0x00080000–0x6FFFFFFF), one per sandbox key, kept in a file of the state folder so a
 * sandbox keeps its id (and the ownership of its files) across restarts.
 */
import fs from 'node:fs';
import path from 'node:path';

export const SANDBOX_UID_BASE = 0x6f000000;
const MAX_SANDBOXES = 0x00fffffe;

export interface SandboxUser {
  uid: number;
  gid: number;
}

export class SandboxUsers {
  private readonly file: string;
  private readonly byKey: Map<string, number>;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'sandbox-users.json');
    this.byKey = new Map(Object.entries(readJson(this.file)).filter((e): e is [string, number] => Number.isInteger(e[1])));
  }

  /** The sandbox's user (and its group of the same number), assigned on first use. */
  userFor(key: string): SandboxUser {
    let index = this.byKey.get(key);
    if (index === undefined) {
      const taken = new Set(this.byKey.values());
      index = 1;
      while (taken.has(index)) index++;
      if (index > MAX_SANDBOXES) throw new Error('no sandbox user id is free');
      this.byKey.set(key, index);
      this.save();
    }
    const uid = SANDBOX_UID_BASE + index;
    return { uid, gid: uid };
  }

  /** A destroyed sandbox's id is free again (its files are gone with it). */
  release(key: string): void {
    if (this.byKey.delete(key)) this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.byKey)));
    fs.renameSync(tmp, this.file);
  }
}

function readJson(file: string): Record<string, unknown> {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Gives a sandbox's folder to its user: at once when it is new, and once for a folder an earlier
 * version left owned by root (every entry, symlinks themselves, never what they point to).
 */
export function giveFolderTo(folder: string, user: SandboxUser): void {
  const st = fs.lstatSync(folder);
  if (st.uid === user.uid && st.gid === user.gid) return;
  const walk = (p: string): void => {
    fs.lchownSync(p, user.uid, user.gid);
    const s = fs.lstatSync(p);
    if (s.isDirectory()) for (const name of fs.readdirSync(p)) walk(path.join(p, name));
  };
  walk(folder);
}
