/**
 * Starting one agent process, the two ways the local container host can: as a plain process
 * (the fallback), or inside namespaces of its own (bubblewrap, with pasta for outbound network).
 * The supervisor treats both the same through `Launched`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AGENT_COMMAND, bwrapArgs, envArgs, hasDefaultRoute, pastaArgs, type SandboxLayout } from './isolation';

export interface Launched {
  child: ChildProcess;
  /** Resolves once the sandbox is ready beyond the agent itself (its outbound network). */
  ready: Promise<void>;
  /** The agent process's pid on this machine, for signals; null while it is not known. */
  agentPid(): number | null;
  /** Ends what was started beside the agent (pasta); called once the agent is gone. */
  cleanup(): void;
}

/** What the first process of a sandbox does before it becomes the agent (or bubblewrap). */
export interface Entry {
  /** `cgroup.procs` files to join, so the agent and all it starts are in the sandbox's cgroup from the start. */
  cgroupProcs: string[];
  /**
   * An oom_score_adj below 0 keeps the agent from being the kernel's first pick when the sandbox
   * runs out of memory (it raises each process it starts back to 0); 0 leaves it. Only root can lower it.
   */
  oomScoreAdj: number;
}

/**
 * Joining a cgroup must happen before the first fork, and bwrap must be in the sandbox's cgroup
 * when it makes the cgroup namespace (whose root is then the sandbox's cgroup, as in a
 * container): a shell joins, then becomes the program. Without anything to do, no shell.
 */
const JOIN = [
  'adj=$1; shift',
  'while [ "$1" != -- ]; do echo $$ > "$1" || { echo "cannot join the cgroup $1" >&2; exit 125; }; shift; done; shift',
  '[ "$adj" = 0 ] || echo "$adj" > /proc/self/oom_score_adj 2>/dev/null',
];
const ENTRY_SCRIPT = [...JOIN, 'exec "$@"'].join('\n');
/**
 * The same, for a warm entry (warm-entry.ts): having joined, it says so and waits for a line naming
 * the sandbox's log file; an end of its input (the host went away) ends it instead.
 */
export const WAITING_ENTRY_SCRIPT = [...JOIN, 'echo joined', 'IFS= read -r log || exit 0', 'exec "$@" </dev/null >>"$log" 2>&1'].join('\n');

/** The command line of a sandbox's first process: a shell that joins and becomes `file`, or `file` itself when there is nothing to join. */
export function entryCommand(entry: Entry, file: string, args: string[], script = ENTRY_SCRIPT): [string, string[]] {
  if (entry.cgroupProcs.length === 0 && entry.oomScoreAdj === 0 && script === ENTRY_SCRIPT) return [file, args];
  return ['/bin/sh', ['-c', script, 'sh', String(entry.oomScoreAdj), ...entry.cgroupProcs, '--', file, ...args]];
}

/** bubblewrap, reading its options from ARGS_FD, as a sandbox's first process runs it (or a warm entry, waiting to). */
export function bwrapCommand(entry: Entry, waits = false): [string, string[]] {
  return entryCommand(entry, 'bwrap', ['--args', String(ARGS_FD), ...AGENT_COMMAND], waits ? WAITING_ENTRY_SCRIPT : ENTRY_SCRIPT);
}

export interface PlainLaunch {
  nodePath: string;
  agentScript: string;
  env: NodeJS.ProcessEnv;
  logFd: number;
  entry: Entry;
}

/** The agent as a plain process in a process group of its own. */
export function launchPlain(spec: PlainLaunch): Launched {
  const [file, args] = entryCommand(spec.entry, spec.nodePath, [spec.agentScript]);
  const child = spawn(file, args, { env: spec.env, detached: true, stdio: ['ignore', spec.logFd, spec.logFd, 'ipc'] });
  return { child, ready: Promise.resolve(), agentPid: () => child.pid ?? null, cleanup: () => {} };
}

export interface IsolatedLaunch {
  layout: SandboxLayout;
  /** The agent's environment; bubblewrap sets it (from its options pipe), so no value appears on a command line. */
  env: NodeJS.ProcessEnv;
  /** The agent's log: an open descriptor for a new bwrap, the file itself for a warm entry. */
  log: { fd: number; file: string };
  /** Whether the sandbox gets outbound network (pasta). */
  internet: boolean;
  /** How long pasta may take to configure the namespace. */
  networkTimeoutMs: number;
  /** The pasta program (`pasta`, or its AVX2 build: isolation.ts pastaCommand). */
  pasta: string;
  entry: Entry;
  /** A shell already in the sandbox's cgroups (warm-entry.ts), to become bwrap at once. */
  warm?: WaitingEntry;
}

/** A sandbox's first process, started ahead with ENTRY_STDIO, that becomes bwrap when released. */
export interface WaitingEntry {
  readonly child: ChildProcess;
  /** Becomes bwrap, its output appended to `logFile`. */
  release(logFile: string): void;
}

/** What bwrap itself needs of the environment: where programs are. */
export function entryEnv(hostEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: hostEnv.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
}

const INFO_FD = 4;
/** bwrap reads its arguments from this pipe (`--args`), so none of them shows in a command line. */
const ARGS_FD = 5;

/**
 * The agent inside bubblewrap. bwrap reports the pid of the namespace's first process on its info
 * fd; pasta is attached to that process's network namespace, under `setpriv --pdeathsig` so it
 * ends with this host even if the host is killed.
 */
export function launchIsolated(spec: IsolatedLaunch): Launched {
  let child: ChildProcess;
  if (spec.warm) {
    child = spec.warm.child;
    spec.warm.release(spec.log.file);
  } else {
    const [file, args] = bwrapCommand(spec.entry);
    child = spawn(file, args, {
      env: entryEnv(process.env),
      detached: true,
      stdio: ['ignore', spec.log.fd, spec.log.fd, 'ipc', 'pipe', 'pipe'],
    });
  }
  const argsPipe = (child.stdio as unknown as (NodeJS.WritableStream | null)[])[ARGS_FD] ?? null;
  argsPipe?.on('error', () => {}); // bwrap gone early: its exit says why
  argsPipe?.end([...bwrapArgs(spec.layout, INFO_FD), ...envArgs(spec.env)].map((a) => `${a}\0`).join(''));
  let namespacePid: number | null = null;
  let pasta: ChildProcess | null = null;
  const info = new Promise<number>((resolve, reject) => {
    let text = '';
    const stream = child.stdio[INFO_FD] as NodeJS.ReadableStream | null;
    if (!stream) return reject(new Error('bubblewrap gave no info pipe'));
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    stream.on('error', () => {});
    child.once('exit', () => reject(new Error('bubblewrap exited before the sandbox started')));
  });
  info.catch(() => {});

  const ready = info.then(async (pid) => {
    namespacePid = pid;
    if (!spec.internet) return;
    // Made by root without a user namespace, the sandbox's first process keeps root's capabilities
    // while bwrap sets it up; pasta, which drops its own, may open its network namespace only after.
    if (spec.layout.user) await capabilitiesDropped(pid, spec.networkTimeoutMs);
    pasta = spawn('setpriv', ['--pdeathsig', 'KILL', '--', spec.pasta, ...pastaArgs(pid, spec.layout.user === null)], { stdio: ['ignore', 'ignore', 'pipe'] });
    await networkConfigured(pasta, pid, spec.networkTimeoutMs);
  });
  ready.catch(() => {});

  return {
    child,
    ready,
    agentPid: () => (namespacePid === null ? null : firstChild(namespacePid)),
    cleanup: () => {
      const p = pasta as ChildProcess | null;
      if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    },
  };
}

/** Waits until pasta has given the namespace a default route; rejects if pasta ends first. */
function networkConfigured(pasta: ChildProcess, pid: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    pasta.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
    const deadline = Date.now() + timeoutMs;
    const onExit = (code: number | null): void => {
      clearInterval(timer);
      reject(new Error(`pasta exited (${code}) before the sandbox's network was up: ${stderr.trim()}`));
    };
    pasta.once('exit', onExit);
    pasta.once('error', (err) => {
      clearInterval(timer);
      reject(new Error(`could not run pasta: ${err.message}`));
    });
    const timer = setInterval(() => {
      let routes = '';
      try {
        routes = fs.readFileSync(`/proc/${pid}/net/route`, 'utf8');
      } catch {
        /* the namespace is gone: pasta's exit says why */
      }
      if (hasDefaultRoute(routes)) {
        clearInterval(timer);
        pasta.off('exit', onExit);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        pasta.off('exit', onExit);
        reject(new Error(`the sandbox's network was not up within ${timeoutMs}ms: ${stderr.trim()}`));
      }
    }, 5);
  });
}

/** Resolves once `pid` holds no capability (bwrap's pid 1 drops them when it has started the agent). */
function capabilitiesDropped(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      let status: string;
      try {
        status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      } catch {
        return reject(new Error('the sandbox ended while it was being set up'));
      }
      if (/^CapPrm:\s*0+$/m.test(status)) return resolve();
      if (Date.now() > deadline) return reject(new Error(`the sandbox was not set up within ${timeoutMs}ms`));
      setTimeout(check, 1);
    };
    check();
  });
}

/** The first child of `pid` (bwrap's init runs the agent as its only child). */
function firstChild(pid: number): number | null {
  try {
    const first = fs
      .readFileSync(path.join('/proc', String(pid), 'task', String(pid), 'children'), 'utf8')
      .trim()
      .split(/\s+/)[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}
