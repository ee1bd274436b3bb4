/**
 * Pure parsers behind port detection: LISTEN sockets from /proc/net/tcp{,6}, the parent and
 * process group of a pid from /proc/<pid>/stat, and which started process owns a pid.
 * port-scanner.ts does the reading.
 */
import { isLoopbackAddress } from '../../worker/protocol/ports';

export interface ListenSocket {
  port: number;
  address: string;
  inode: number;
}

const TCP_LISTEN = '0A';

/** LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6. */
export function parseProcNetTcp(text: string): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0]!) || f[3] !== TCP_LISTEN) continue;
    const local = f[1]!;
    const colon = local.lastIndexOf(':');
    if (colon < 0) continue;
    const address = decodeProcAddress(local.slice(0, colon));
    const port = parseInt(local.slice(colon + 1), 16);
    const inode = Number(f[9]);
    if (address === null || !Number.isInteger(port) || !Number.isInteger(inode)) continue;
    out.push({ port, address, inode });
  }
  return out;
}

/** /proc prints addresses as 32-bit words in host (little-endian) byte order. */
export function decodeProcAddress(hex: string): string | null {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || (hex.length !== 8 && hex.length !== 32)) return null;
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(word.slice(b, b + 2), 16));
  }
  return bytes.length === 4 ? bytes.join('.') : formatIpv6(bytes);
}

export function formatIpv6(bytes: number[]): string {
  const isMapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** Ranks addresses so one port bound several times reports the widest one. */
function addressRank(address: string): number {
  if (WILDCARDS.has(address)) return 0;
  if (isLoopbackAddress(address)) return 2;
  return 1;
}

/** The widest-bound socket per port, ports ascending. */
export function widestPerPort<T extends { port: number; address: string }>(sockets: T[]): T[] {
  const best = new Map<number, T>();
  for (const s of sockets) {
    const cur = best.get(s.port);
    if (!cur || addressRank(s.address) < addressRank(cur.address)) best.set(s.port, s);
  }
  return [...best.values()].sort((a, b) => a.port - b.port);
}

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open));
  const rest = text.slice(close + 2).split(' ');
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(pgrp)) return null;
  return { pid, ppid, pgrp };
}

/**
 * Which tracked process group each pid belongs to: a pid counts when its process group is one
 * the agent started, or when an ancestor's does (children that made groups of their own).
 * Returns pid → the owning group's process id (null for groups of `exec` commands).
 */
export function attributePids(stats: Map<number, ProcStat>, groups: Map<number, string | null>): Map<number, string | null> {
  const memo = new Map<number, { owned: boolean; processId: string | null }>();
  const resolve = (pid: number): { owned: boolean; processId: string | null } => {
    const chain: number[] = [];
    let result = { owned: false, processId: null as string | null };
    let cur: number | undefined = pid;
    while (cur !== undefined && cur > 1) {
      const known = memo.get(cur);
      if (known) {
        result = known;
        break;
      }
      const st = stats.get(cur);
      if (!st || chain.includes(cur)) break;
      chain.push(cur);
      if (groups.has(st.pgrp)) {
        result = { owned: true, processId: groups.get(st.pgrp)! };
        break;
      }
      cur = st.ppid;
    }
    for (const p of chain) memo.set(p, result);
    return result;
  };
  const out = new Map<number, string | null>();
  for (const pid of stats.keys()) {
    const r = resolve(pid);
    if (r.owned) out.set(pid, r.processId);
  }
  return out;
}

/** Inode of a socket from a /proc/<pid>/fd/<n> link target such as `socket:[12345]`. */
export function socketInode(linkTarget: string): number | null {
  const m = /^socket:\[(\d+)\]$/.exec(linkTarget);
  return m ? Number(m[1]) : null;
}
