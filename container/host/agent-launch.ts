/**
 * Starting one agent process, the two ways the local container host can: as a plain process
 * (the fallback), or inside namespaces of its own (bubblewrap, with pasta for outbound network).
 * The supervisor treats both the same through `Launched`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bwrapArgs, hasDefaultRoute, pastaArgs, type SandboxLayout } from './isolation';

export interface Launched {
  child: ChildProcess;
  /** Resolves once the sandbox is ready beyond the agent itself (its outbound network). */
  ready: Promise<void>;
  /** The agent process's pid on this machine, for signals; null while it is not known. */
  agentPid(): number | null;
  /** Ends what was started beside the agent (pasta); called once the agent is gone. */
  cleanup(): void;
}

export interface PlainLaunch {
  nodePath: string;
  agentScript: string;
  env: NodeJS.ProcessEnv;
  logFd: number;
}

/** The agent as a plain process in a process group of its own. */
export function launchPlain(spec: PlainLaunch): Launched {
  const child = spawn(spec.nodePath, [spec.agentScript], { env: spec.env, detached: true, stdio: ['ignore', spec.logFd, spec.logFd, 'ipc'] });
  return { child, ready: Promise.resolve(), agentPid: () => child.pid ?? null, cleanup: () => {} };
}

export interface IsolatedLaunch {
  layout: SandboxLayout;
  /** The agent's environment; bubblewrap passes its own on, so no value appears on a command line. */
  env: NodeJS.ProcessEnv;
  logFd: number;
  /** Whether the sandbox gets outbound network (pasta). */
  internet: boolean;
  /** How long pasta may take to configure the namespace. */
  networkTimeoutMs: number;
  /** The pasta program (`pasta`, or its AVX2 build: isolation.ts pastaCommand). */
  pasta: string;
}

const INFO_FD = 4;

/**
 * The agent inside bubblewrap. bwrap reports the pid of the namespace's first process on its info
 * fd; pasta is attached to that process's network namespace, under `setpriv --pdeathsig` so it
 * ends with this host even if the host is killed.
 */
export function launchIsolated(spec: IsolatedLaunch): Launched {
  const child = spawn('bwrap', bwrapArgs(spec.layout, INFO_FD), {
    env: spec.env,
    detached: true,
    stdio: ['ignore', spec.logFd, spec.logFd, 'ipc', 'pipe'],
  });
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
    pasta = spawn('setpriv', ['--pdeathsig', 'KILL', '--', spec.pasta, ...pastaArgs(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
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
