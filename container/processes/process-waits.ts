/**
 * The three waits on a started process (exit, a log line, a ready port). Each ends with a result,
 * 408 TIMEOUT, or 409 PROCESS_EXITED, and never outlives its client.
 */
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import type { ListenerInfo, WaitForLogRequest } from '../../worker/protocol/agent';
import type { WaitForLogResult } from '../../worker/protocol/process';
import { withDeadline } from '../http/deadline';
import { LineMatcher, makeLineTest } from './line-matcher';
import type { LogStreamName } from './log-buffer';
import { startRegexMatcher } from './regex-matcher';
import type { ManagedProcess } from './managed-process';
import { probeOnce, type Probe } from '../ports/port-probe';
import type { WaitForPortParams } from '../../worker/protocol/requests';

/** Longest a single probe may take, so a hung service cannot stretch one attempt. */
const MAX_PROBE_MS = 5000;

export function waitForExit(p: ManagedProcess, timeoutMs: number, signal?: AbortSignal): Promise<{ exitCode: number | null }> {
  return withDeadline(
    {
      timeoutMs,
      signal,
      onTimeout: () => new SandboxError(ErrorCode.TIMEOUT, `Process ${p.id} did not exit within ${timeoutMs}ms`),
    },
    (settle) => p.onExit((info) => settle.resolve({ exitCode: info.exitCode ?? null })),
  );
}

export function waitForLog(p: ManagedProcess, req: WaitForLogRequest & { timeout: number }, signal?: AbortSignal): Promise<WaitForLogResult> {
  // Built first, so an invalid pattern is a 400 before anything waits. A regular expression is
  // matched in a thread of its own (regex-matcher.ts), so no pattern can stall the agent.
  const test = makeLineTest(req.pattern, req.regex ?? false, req.flags);
  const inline = req.regex ? null : new LineMatcher(test);
  const shown = req.regex ? `/${req.pattern}/${req.flags ?? ''}` : `"${req.pattern}"`;
  return withDeadline(
    {
      timeoutMs: req.timeout,
      signal,
      onTimeout: () =>
        new SandboxError(ErrorCode.TIMEOUT, `Process did not become ready within ${req.timeout}ms. Waiting for: log pattern ${shown} in the output of process ${p.id}`),
    },
    (settle) => {
      const threaded = inline ? null : startRegexMatcher(process.argv[1]!, req.pattern, req.flags, (found) => settle.resolve(found));
      const feed = (stream: LogStreamName, data: string): boolean => {
        if (threaded) {
          threaded.feed(stream, data); // its answer comes later, through settle
          return false;
        }
        const found = inline!.feed(stream, data);
        if (found) settle.resolve(found);
        return found !== null;
      };
      // Earlier output first (kept chunks in order), then every new chunk: subscribing in the same
      // tick as the history read leaves no gap.
      for (const chunk of p.logs.since(0).chunks) {
        if (feed(chunk.stream, chunk.data)) return undefined;
      }
      const offLog = p.logs.subscribe((chunk) => void feed(chunk.stream, chunk.data));
      const exited = (): void => settle.reject(new SandboxError(ErrorCode.PROCESS_EXITED, `Process exited with code ${p.shellExitCode} before its output matched ${shown}`));
      // A threaded match may still be working through the last output: it says when it is done.
      const offExit = p.onExit(() => (threaded ? threaded.end(exited) : exited()));
      return () => {
        offLog();
        offExit();
        threaded?.stop();
      };
    },
  );
}

export function describeTarget(params: Pick<WaitForPortParams, 'port' | 'mode' | 'path'>): string {
  return `port ${params.port} (${params.mode === 'http' ? `HTTP ${params.path}` : 'TCP'})`;
}

/**
 * Who holds a port, when the agent shares the machine's ports with other programs (the local
 * fallback): an answering port only counts as ready when it is the sandbox's own.
 */
export type ListenerCheck = (port: number) => Promise<ListenerInfo>;

export function waitForPort(p: ManagedProcess, params: WaitForPortParams, signal?: AbortSignal, listener?: ListenerCheck): Promise<{ ready: true }> {
  const target = describeTarget(params);
  let heldBy: string | null = null;
  const probe: Probe = params.mode === 'http' ? { mode: 'http', port: params.port, path: params.path, status: params.status } : { mode: 'tcp', port: params.port };
  const deadline = Date.now() + params.timeout;
  return withDeadline(
    {
      timeoutMs: params.timeout,
      signal,
      onTimeout: () =>
        new SandboxError(
          ErrorCode.TIMEOUT,
          `Process did not become ready within ${params.timeout}ms. Waiting for: ${target}` +
            (heldBy ? `. Port ${params.port} answers, but it is held by another program on this machine: ${heldBy}` : ''),
        ),
    },
    (settle) => {
      let stopped = false;
      let sleep: NodeJS.Timeout | undefined;
      const offExit = p.onExit(() =>
        settle.reject(new SandboxError(ErrorCode.PROCESS_EXITED, `Process exited with code ${p.shellExitCode} before becoming ready. Waiting for: ${target}`)),
      );
      if (!p.running) return offExit;
      const attempt = async (): Promise<void> => {
        if (stopped) return;
        const budget = Math.max(1, Math.min(MAX_PROBE_MS, deadline - Date.now()));
        if (await probeOnce(probe, budget)) {
          const info = listener ? await listener(params.port) : null;
          if (info?.owner !== 'other') return settle.resolve({ ready: true });
          heldBy = info.holder ?? 'unknown';
        }
        if (!stopped) sleep = setTimeout(() => void attempt().catch(settle.reject), params.interval);
      };
      void attempt().catch(settle.reject);
      return () => {
        stopped = true;
        clearTimeout(sleep);
        offExit();
      };
    },
  );
}
