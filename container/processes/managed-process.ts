/**
 * One started process: `bash -c <command>` as the leader of its own process group, its output in
 * a bounded LogBuffer, its exit recorded once the pipes have drained.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { statusFromExit, type ProcessInfo } from '../../worker/protocol/process';
import { LogBuffer, type LogStreamName } from './log-buffer';
import { describeSpawnError, shellExitCode } from './exec';
import { unshield } from '../resources/oom-shield';

/** How long to wait for pipes to close after the leader exits (a background child may hold them). */
const PIPE_GRACE_MS = 100;

export interface SpawnSpec {
  id: string;
  command: string;
  /** Where it runs on this machine, and how the sandbox names that folder. */
  hostCwd: string;
  sandboxCwd: string;
  env: NodeJS.ProcessEnv;
  logLimit: number;
  /** Tells a kill by the kernel for memory from any other SIGKILL (resources/memory-watch.ts). */
  memory?: MemoryVerdict;
}

export interface MemoryVerdict {
  /** True (once per kill) when the kernel just killed a process of the sandbox for memory. */
  claimKill(): boolean;
  /** The sandbox's memory limit in bytes, or null. */
  memoryLimit(): number | null;
}

export class ManagedProcess {
  readonly id: string;
  readonly logs: LogBuffer;
  info: ProcessInfo;
  /** The event id of the exit in the log stream; null while running. */
  exitSeq: number | null = null;
  private readonly exitListeners = new Set<(info: ProcessInfo) => void>();
  private readonly memory: MemoryVerdict | undefined;
  /** The agent itself signalled it (a kill, the SIGKILL after a grace, kill-all): not the kernel's doing. */
  private signalledByAgent = false;

  private constructor(spec: SpawnSpec) {
    this.id = spec.id;
    this.memory = spec.memory;
    this.logs = new LogBuffer(spec.logLimit);
    this.info = {
      id: spec.id,
      pid: null,
      command: spec.command,
      status: 'running',
      startTime: new Date().toISOString(),
      cwd: spec.sandboxCwd,
    };
  }

  /** Starts the process; resolves once it runs, or once it failed to start (status 'error'). */
  static start(spec: SpawnSpec): Promise<ManagedProcess> {
    const p = new ManagedProcess(spec);
    return new Promise((resolve) => {
      const child = spawn('bash', ['-c', spec.command], {
        cwd: spec.hostCwd,
        env: spec.env,
        detached: true, // its own process group, so a signal reaches the whole tree
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      p.capture(child, 'stdout');
      p.capture(child, 'stderr');
      child.once('spawn', () => {
        unshield(child.pid);
        p.info.pid = child.pid ?? null;
        resolve(p);
      });
      child.once('error', (err) => {
        if (p.info.pid !== null) {
          console.error(`process ${p.id}: ${err.message}`);
          return;
        }
        p.logs.append('stderr', `Could not start: ${describeSpawnError(err, spec.hostCwd, spec.sandboxCwd)}\n`);
        p.finish(null, null, 'error');
        resolve(p);
      });
      child.once('exit', (code, signal) => {
        const grace = setTimeout(() => p.finish(code, signal), PIPE_GRACE_MS);
        child.once('close', () => {
          clearTimeout(grace);
          p.finish(code, signal);
        });
      });
    });
  }

  get running(): boolean {
    return this.exitSeq === null;
  }

  /** Called before the agent signals the process, so its end is not taken for a kernel kill. */
  markSignalled(): void {
    this.signalledByAgent = true;
  }

  /** The process group id (the leader's pid), or null when it never started. */
  get pgid(): number | null {
    return this.info.pid;
  }

  /** The exit code as a shell reports it (128 + n for a signal, -1 when it never started). */
  get shellExitCode(): number {
    return shellExitCode(this.info.exitCode ?? null, (this.info.signal ?? null) as NodeJS.Signals | null);
  }

  /** Calls `fn` once when the process exits (at once if it already has); returns an unsubscribe. */
  onExit(fn: (info: ProcessInfo) => void): () => void {
    if (!this.running) {
      fn(this.info);
      return () => {};
    }
    this.exitListeners.add(fn);
    return () => this.exitListeners.delete(fn);
  }

  private capture(child: ChildProcess, name: LogStreamName): void {
    const stream = child[name]!;
    const decoder = new StringDecoder('utf8');
    stream.on('data', (chunk: Buffer) => {
      const text = decoder.write(chunk);
      if (text) this.logs.append(name, text, chunk.length);
    });
    stream.on('end', () => {
      const rest = decoder.end();
      if (rest) this.logs.append(name, rest);
    });
    stream.on('error', () => {}); // a destroyed pipe is not the agent's problem
  }

  private finish(code: number | null, signal: NodeJS.Signals | null, status = statusFromExit(code, signal)): void {
    if (!this.running) return;
    // Killed outright, or a shell saying its command was (137): the kernel's doing when it killed for memory.
    const oom = !this.signalledByAgent && (signal === 'SIGKILL' || code === 137) && this.memory?.claimKill() === true;
    const limit = oom ? this.memory?.memoryLimit() : null;
    this.info = {
      ...this.info,
      status: oom ? 'killed' : status,
      endTime: new Date().toISOString(),
      // As a shell would say it: 128 + n after signal n.
      exitCode: code === null && signal === null ? null : shellExitCode(code, signal),
      signal: oom ? 'SIGKILL' : signal,
      ...(oom ? { reason: 'out-of-memory' as const, ...(limit ? { memoryLimit: limit } : {}) } : {}),
    };
    this.exitSeq = this.logs.reserveSeq();
    for (const fn of this.exitListeners) fn(this.info);
    this.exitListeners.clear();
  }
}
