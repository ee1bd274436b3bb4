/**
 * Decides, once at start, whether this host can isolate sandboxes (bubblewrap, pasta and setpriv
 * present, and bubblewrap allowed to make namespaces here) and which pasta build to run, and reads
 * the system folders a sandbox gets to see.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SYSTEM_PATHS, pastaCommand, type IsolationMode, type SystemEntry } from './isolation';

/** SANDBOX_ISOLATION: `auto` (the default) isolates where it can, `namespaces` insists, `none` never does. */
export const ISOLATION_ENV = 'SANDBOX_ISOLATION';

export interface IsolationSupport {
  mode: IsolationMode;
  /** Why there is no isolation (for the warning line), when mode is 'none'. */
  reason?: string;
  /** The pasta program to run (pastaCommand), when mode is 'namespaces'. */
  pasta?: string;
}

export const INSTALL_HINT = 'install bubblewrap and passt (Debian/Ubuntu: sudo apt-get install bubblewrap passt)';

/** Finds `name` on PATH (or takes an absolute path as it is); null when it is not there. */
export function onPath(name: string, pathVar = process.env.PATH ?? ''): string | null {
  if (path.isAbsolute(name)) return fs.existsSync(name) ? name : null;
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}

export function probeIsolation(requested = process.env[ISOLATION_ENV] ?? 'auto'): IsolationSupport {
  if (requested === 'none') return { mode: 'none', reason: `${ISOLATION_ENV}=none` };
  if (requested !== 'auto' && requested !== 'namespaces') {
    throw new Error(`${ISOLATION_ENV} must be auto, namespaces or none (got '${requested}')`);
  }
  const missing = (reason: string): IsolationSupport => {
    if (requested === 'namespaces') throw new Error(`${ISOLATION_ENV}=namespaces, but ${reason}`);
    return { mode: 'none', reason };
  };
  if (process.platform !== 'linux') return missing(`namespaces need Linux (this is ${process.platform})`);
  const tools = ['bwrap', 'pasta', 'setpriv'].filter((t) => !onPath(t));
  if (tools.length > 0) return missing(`${tools.join(', ')} not found: ${INSTALL_HINT}`);
  const trial = spawnSync('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (trial.status !== 0) {
    const why = (trial.stderr || trial.error?.message || `exit ${trial.status}`).trim();
    return missing(`bubblewrap cannot make namespaces here (${why}); user namespaces may be disabled`);
  }
  let cpuinfo = '';
  try {
    cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    /* no AVX2 build then */
  }
  return { mode: 'namespaces', pasta: pastaCommand(avx2Sibling(onPath('pasta')), cpuinfo) };
}

/**
 * The AVX2 build beside the pasta that PATH finds, if installed, under its pasta name
 * (`pasta.avx2`, a link to `passt.avx2`): the program picks pasta or passt mode by the name it was
 * run as, so the resolved `passt.avx2` would start as passt.
 */
function avx2Sibling(pasta: string | null): string | null {
  if (!pasta) return null;
  try {
    const build = `${pasta}.avx2`;
    fs.accessSync(build, fs.constants.X_OK);
    return build;
  } catch {
    return null;
  }
}

/** The system folders as they are here: real folders are bound read-only, symlinks copied. */
export function readSystemEntries(): SystemEntry[] {
  const out: SystemEntry[] = [];
  for (const p of SYSTEM_PATHS) {
    try {
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out.push({ path: p, symlink: fs.readlinkSync(p) });
      else if (st.isDirectory()) out.push({ path: p, dir: true });
    } catch {
      /* not on this system */
    }
  }
  return out;
}
