/**
 * Runs one command to completion in a process group of its own: output captured up to a cap,
 * the whole group killed on timeout. Used by POST /exec and by git checkout.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type { ProcessGroups } from './process-groups';
import { unshield } from '../resources/oom-shield';

export const MAX_EXEC_OUTPUT_BYTES = 10 * 1024 * 1024;
/** How long to wait for pipes to close after the command exits (a background child may hold them). */
const PIPE_GRACE_MS = 100;

export interface RunOptions {
  file: string;
  args: string[];
  cwd: string;
  /** The sandbox form of cwd, for messages. */
  shownCwd?: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  groups: ProcessGroups;
  maxOutputBytes?: number;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the command could not start at all (missing cwd, missing program). */
  spawnError?: string;
  durationMs: number;
}

class CappedText {
  private readonly cap: number;
  private readonly parts: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  constructor(cap: number) {
    this.cap = cap;
  }
  push(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.parts.push(kept);
    this.size += kept.length;
    this.dropped += chunk.length - kept.length;
  }
  text(): string {
    const body = Buffer.concat(this.parts, this.size).toString('utf8');
    return this.dropped > 0 ? `${body}\n[… ${this.dropped} bytes of later output truncated …]\n` : body;
  }
}

export function runCommand(opts: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const cap = opts.maxOutputBytes ?? MAX_EXEC_OUTPUT_BYTES;
  const stdout = new CappedText(cap);
  const stderr = new CappedText(cap);
  return new Promise((resolve) => {
    const child = spawn(opts.file, opts.args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const pgid = child.pid;
    unshield(pgid);
    if (pgid !== undefined) opts.groups.add(pgid, null);
    const timer = setTimeout(() => {
      timedOut = true;
      if (pgid !== undefined) opts.groups.signal(pgid, 'SIGKILL');
    }, opts.timeoutMs);

    const finish = (spawnError?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (pgid !== undefined) opts.groups.leaderExited(pgid);
      const result: RunResult = {
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout: stdout.text(),
        stderr: spawnError ? `${stderr.text()}${spawnError}\n` : stderr.text(),
        timedOut,
        durationMs: Math.round(performance.now() - started),
      };
      if (spawnError) result.spawnError = spawnError;
      resolve(result);
    };

    child.stdout!.on('data', (c: Buffer) => stdout.push(c));
    child.stderr!.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (err) => finish(`Could not run ${opts.file}: ${describeSpawnError(err, opts.cwd, opts.shownCwd)}`));
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      graceTimer = setTimeout(() => finish(), PIPE_GRACE_MS);
    });
    child.on('close', () => finish());
  });
}

/**
 * Node reports a missing cwd as ENOENT of the program; say which one it really is. `shownCwd` is
 * the sandbox form of `cwd` for the message.
 */
export function describeSpawnError(err: Error, cwd: string, shownCwd = cwd): string {
  // fork fails with EAGAIN when the sandbox's task limit (pids.max) is reached.
  if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return `the sandbox has reached its limit of processes (${err.message}): end some, or give it more (resources.processes)`;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(cwd);
  } catch {
    return `working directory ${shownCwd} does not exist`;
  }
  if (!stat.isDirectory()) return `working directory ${shownCwd} is not a directory`;
  return err.message;
}

/** Exit code as a shell reports it: 128 + signal number when killed by a signal. */
export function shellExitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal) return 128 + (os.constants.signals[signal] ?? 0);
  return -1;
}
