/**
 * The processes of this sandbox: start, list, signal, and their lifecycle events. Each process is
 * the leader of its own process group, tracked in ProcessGroups so nothing outlives the agent.
 */
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import type { AgentEvent, StartRequest } from '../../worker/protocol/agent';
import { DEFAULT_KILL_GRACE_MS, type ProcessInfo, type SignalName } from '../../worker/protocol/process';
import { randomAlphanumeric } from '../../worker/protocol/tokens';
import type { EventLog } from '../event-log';
import type { Files } from '../files/files';
import { ManagedProcess, type MemoryVerdict } from './managed-process';
import type { ProcessGroups } from './process-groups';

/** Exited processes stay listed (with their logs) up to this many; the oldest go first. */
export const MAX_EXITED_KEPT = 50;
/** How long DELETE /processes waits for the killed processes to be reaped. */
const KILL_ALL_WAIT_MS = 2000;

export interface ProcessServiceDeps {
  files: Files;
  groups: ProcessGroups;
  events: EventLog<AgentEvent>;
  /** The environment every command starts from (the agent's own, without its settings). */
  baseEnv: NodeJS.ProcessEnv;
  logLimit: number;
  /** Tells a kill for memory from other kills (the sandbox's memory watch). */
  memory?: MemoryVerdict;
  /** Called when a process starts, so port scanning can begin. */
  onStart?: () => void;
}

export function generateProcessId(): string {
  return `proc-${randomAlphanumeric(8)}`;
}

export class ProcessService {
  private readonly deps: ProcessServiceDeps;
  private readonly processes = new Map<string, ManagedProcess>();

  constructor(deps: ProcessServiceDeps) {
    this.deps = deps;
  }

  async start(req: StartRequest): Promise<ProcessInfo> {
    const cwd = await this.deps.files.resolve(req.cwd ?? '/workspace', 'cwd');
    const id = req.processId ?? this.freshId();
    const existing = this.processes.get(id);
    if (existing?.running) {
      throw new SandboxError(ErrorCode.PROCESS_ID_IN_USE, `Process ID '${id}' is already used by a running process`);
    }
    const p = await ManagedProcess.start({
      id,
      command: req.command,
      hostCwd: cwd.hostPath,
      sandboxCwd: cwd.sandboxPath,
      env: { ...this.deps.baseEnv, ...req.env },
      logLimit: this.deps.logLimit,
      ...(this.deps.memory ? { memory: this.deps.memory } : {}),
    });
    // A concurrent start may have taken the id while this one spawned; the later one loses.
    if (this.processes.get(id)?.running) {
      p.markSignalled();
      if (p.pgid !== null) this.deps.groups.signal(p.pgid, 'SIGKILL');
      throw new SandboxError(ErrorCode.PROCESS_ID_IN_USE, `Process ID '${id}' is already used by a running process`);
    }
    this.processes.delete(id);
    this.processes.set(id, p);
    if (p.pgid !== null) this.deps.groups.add(p.pgid, id);
    this.deps.events.append({ type: 'process-started', process: p.info });
    p.onExit((info) => {
      if (p.pgid !== null) this.deps.groups.leaderExited(p.pgid);
      this.deps.events.append({ type: 'process-exited', process: info });
      this.trimExited();
    });
    this.deps.onStart?.();
    return p.info;
  }

  list(): ProcessInfo[] {
    return [...this.processes.values()].map((p) => p.info);
  }

  get(id: string): ManagedProcess {
    const p = this.processes.get(id);
    if (!p) throw new SandboxError(ErrorCode.PROCESS_NOT_FOUND, `Process '${id}' not found`);
    return p;
  }

  /**
   * Sends `signal` to the process's whole group. On an exited process it reaches only the
   * children that outlived it, and is otherwise a no-op.
   */
  kill(id: string, signal: SignalName, graceMs = DEFAULT_KILL_GRACE_MS): void {
    const p = this.get(id);
    const pgid = p.pgid;
    if (pgid === null) return;
    if (!p.running && !this.deps.groups.isLingering(pgid)) return;
    p.markSignalled();
    this.deps.groups.signal(pgid, signal);
    if (signal === 'SIGKILL' || !p.running) return;
    // A process that ignores the signal is not left running while the caller was told it ends:
    // SIGKILL follows after the grace period, as the SDK does.
    const escalate = setTimeout(() => {
      if (p.running) this.deps.groups.signal(pgid, 'SIGKILL');
    }, graceMs);
    escalate.unref();
    p.onExit(() => clearTimeout(escalate));
  }

  /** SIGKILLs every running process; returns how many there were, once they are reaped. */
  async killAll(): Promise<number> {
    const running = [...this.processes.values()].filter((p) => p.running);
    for (const p of running) p.markSignalled();
    this.deps.groups.signalAll('SIGKILL');
    await Promise.race([
      Promise.all(running.map((p) => new Promise<void>((resolve) => p.onExit(() => resolve())))),
      new Promise((resolve) => setTimeout(resolve, KILL_ALL_WAIT_MS).unref()),
    ]);
    return running.length;
  }

  get runningCount(): number {
    let n = 0;
    for (const p of this.processes.values()) if (p.running) n++;
    return n;
  }

  private freshId(): string {
    let id = generateProcessId();
    while (this.processes.has(id)) id = generateProcessId();
    return id;
  }

  private trimExited(): void {
    const exited = [...this.processes.values()].filter((p) => !p.running);
    for (const p of exited.slice(0, Math.max(0, exited.length - MAX_EXITED_KEPT))) this.processes.delete(p.id);
  }
}
