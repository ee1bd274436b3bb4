/**
 * The files of /etc that say who and where a sandbox is, made for each sandbox and laid over the
 * host's read-only /etc: its hostname, a hosts file that names it, and (when its processes run as
 * a user of their own) passwd and group entries for that user, so `whoami`, git and npm know it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxUser } from './sandbox-users';
import { readTextOr } from '../read-text';

/** The name a sandbox's own user has inside. */
export const SANDBOX_USER_NAME = 'sandbox';

export function hostsFile(sandboxId: string): string {
  return `127.0.0.1\tlocalhost\n127.0.1.1\t${sandboxId}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
}

/** The host's passwd (or group) lines with the sandbox user's in place of any of the same name or number. */
export function withSandboxUser(hostText: string, line: string, id: number): string {
  const kept = hostText.split('\n').filter((l) => {
    const [name, , num] = l.split(':');
    return l.trim() !== '' && name !== SANDBOX_USER_NAME && Number(num) !== id;
  });
  return [...kept, line, ''].join('\n');
}

export function passwdFile(hostPasswd: string, user: SandboxUser, home: string): string {
  return withSandboxUser(hostPasswd, `${SANDBOX_USER_NAME}:x:${user.uid}:${user.gid}:sandbox:${home}:/bin/bash`, user.uid);
}

export function groupFile(hostGroup: string, user: SandboxUser): string {
  return withSandboxUser(hostGroup, `${SANDBOX_USER_NAME}:x:${user.gid}:`, user.gid);
}

/** What to lay over /etc inside: a host file → its path inside. */
export type EtcOverlay = { hostFile: string; inside: string }[];

/**
 * Writes the sandbox's files into `folder` and answers where each goes. A resolv.conf that is a
 * link out of /etc (systemd-resolved's, under /run) is laid over with the file it names, which the
 * sandbox could not otherwise reach.
 */
export function writeSandboxEtc(folder: string, sandboxId: string, user: SandboxUser | null, home: string): EtcOverlay {
  fs.mkdirSync(folder, { recursive: true });
  const files: Record<string, string> = { hostname: `${sandboxId}\n`, hosts: hostsFile(sandboxId) };
  if (user) {
    files.passwd = passwdFile(readTextOr('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'), user, home);
    files.group = groupFile(readTextOr('/etc/group', 'root:x:0:\n'), user);
  }
  const overlay: EtcOverlay = [];
  for (const [name, text] of Object.entries(files)) {
    // A file is laid over one of the host's: the read-only /etc can take no new mount point.
    if (!fs.existsSync(`/etc/${name}`)) continue;
    const file = path.join(folder, name);
    fs.writeFileSync(file, text, { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    overlay.push({ hostFile: file, inside: `/etc/${name}` });
  }
  const resolv = linkedOutOfEtc('/etc/resolv.conf');
  if (resolv) overlay.push({ hostFile: resolv, inside: '/etc/resolv.conf' });
  return overlay;
}

function linkedOutOfEtc(file: string): string | null {
  try {
    if (!fs.lstatSync(file).isSymbolicLink()) return null;
    const target = fs.realpathSync(file);
    return target.startsWith('/etc/') ? null : target;
  } catch {
    return null;
  }
}
