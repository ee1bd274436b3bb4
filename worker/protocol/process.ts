/** Process shapes shared by the agent, the Worker (SDK and control API) and the extension. */

export type ProcessStatus = 'running' | 'completed' | 'failed' | 'killed' | 'error';

export interface ProcessInfo {
  id: string;
  pid: number | null;
  command: string;
  status: ProcessStatus;
  /** ISO-8601. */
  startTime: string;
  endTime?: string;
  /** As a shell reports it: 128 + n for a process ended by signal n (137 for SIGKILL, 143 for SIGTERM). */
  exitCode?: number | null;
  /** Signal name when the process was ended by a signal. */
  signal?: string | null;
  /** Why it ended, when something other than the process decided: the kernel killed it for memory. */
  reason?: ExitReason;
  /** With reason 'out-of-memory': the sandbox's memory limit in bytes. */
  memoryLimit?: number;
  cwd: string;
}

export type ExitReason = 'out-of-memory';

export interface StartProcessOptions {
  env?: Record<string, string>;
  cwd?: string;
  processId?: string;
}

export interface ExecOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Milliseconds; the command's process group is killed when it runs longer. */
  timeout?: number;
}

export interface ExecResult {
  success: boolean;
  exitCode: number;
  stdout: string;
  stderr: string;
  command: string;
  /** Milliseconds. */
  duration: number;
}

export interface ProcessLogs {
  stdout: string;
  stderr: string;
  /** True when older output was dropped to keep the buffer bounded. */
  truncated: boolean;
}

export interface WaitForPortOptions {
  mode?: 'http' | 'tcp';
  path?: string;
  status?: number | { min: number; max: number };
  timeout?: number;
  interval?: number;
}

export interface WaitForLogResult {
  line: string;
  match?: string[];
}

export interface DetectedPort {
  port: number;
  address: string;
  pid: number;
  processId: string | null;
}

/** Status from an exit as SPEC 2.2 maps it. */
export function statusFromExit(code: number | null, signal: string | null): ProcessStatus {
  if (signal) return 'killed';
  return code === 0 ? 'completed' : 'failed';
}

export const SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
export type SignalName = (typeof SIGNALS)[number];

export function isSignalName(value: unknown): value is SignalName {
  return typeof value === 'string' && (SIGNALS as readonly string[]).includes(value);
}

/** How long kill() waits after the first signal before SIGKILL (SDK parity). */
export const DEFAULT_KILL_GRACE_MS = 5000;
export const MAX_KILL_GRACE_MS = 10 * 60_000;

/** Log stream events (SSE `event:` names) carried from the agent to every client. */
export type LogStreamEvent =
  | { type: 'log'; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'truncated'; dropped: number }
  | { type: 'exit'; exitCode: number | null; status: ProcessStatus; reason?: ExitReason; memoryLimit?: number };

/** How a process ended, in words: `exit code 1`, `killed: out of memory (256 MiB limit)`. */
export function describeExit(p: { status: ProcessStatus; exitCode?: number | null; signal?: string | null; reason?: ExitReason; memoryLimit?: number }): string {
  if (p.reason === 'out-of-memory') {
    const limit = p.memoryLimit ? ` (${Math.round(p.memoryLimit / (1024 * 1024))} MiB limit)` : '';
    return `killed: out of memory${limit}`;
  }
  if (p.status === 'killed') return `killed${p.signal ? ` by ${p.signal}` : ''}`;
  if (p.status === 'error') return 'could not start';
  return `exit code ${p.exitCode ?? '?'}`;
}
