/** Handlers of /processes and /exec: parse the request, call the service, shape the answer. */
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { describeExit, type ExecResult } from '../../worker/protocol/process';
import type { MemoryVerdict } from './managed-process';
import { clientGone } from '../http/deadline';
import { runCommand, shellExitCode } from './exec';
import type { Files } from '../files/files';
import { lastEventId, openSse, readJson } from '../http/http-util';
import { followLogs } from './log-stream';
import type { ProcessGroups } from './process-groups';
import type { ProcessService } from './process-service';
import { waitForExit, waitForLog, waitForPort, type ListenerCheck } from './process-waits';
import { parseExecRequest, parseKill, parseStartRequest, parseWaitForExit, parseWaitForLog, parseWaitForPort } from '../../worker/protocol/requests';
import { json, noContent, type Route } from '../http/router';

/** GNU timeout's exit code for a command it had to stop. */
export const EXEC_TIMEOUT_EXIT_CODE = 124;

export interface ProcessRouteDeps {
  processes: ProcessService;
  files: Files;
  groups: ProcessGroups;
  baseEnv: NodeJS.ProcessEnv;
  /** Who holds a port, where the agent shares the machine's ports (the local fallback). */
  listener?: ListenerCheck;
  /** Tells a kill for memory from other kills. */
  memory?: MemoryVerdict;
}

export function processRoutes({ processes, files, groups, baseEnv, listener, memory }: ProcessRouteDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/processes',
      handler: async ({ req }) => json(await processes.start(parseStartRequest(await readJson(req))), 201),
    },
    { method: 'GET', path: '/processes', handler: () => json({ processes: processes.list() }) },
    { method: 'DELETE', path: '/processes', handler: async () => json({ killed: await processes.killAll() }) },
    { method: 'GET', path: '/processes/:id', handler: ({ params }) => json(processes.get(params.id!).info) },
    {
      method: 'DELETE',
      path: '/processes/:id',
      handler: ({ params, query }) => {
        const { signal, graceMs } = parseKill(query.get('signal'), query.get('graceMs'));
        processes.kill(params.id!, signal, graceMs);
        return noContent;
      },
    },
    { method: 'GET', path: '/processes/:id/logs', handler: ({ params }) => json(processes.get(params.id!).logs.snapshot()) },
    {
      method: 'GET',
      path: '/processes/:id/logs/stream',
      handler: ({ req, res, params, query }) => {
        const p = processes.get(params.id!);
        followLogs(p, openSse(res), lastEventId(req, query));
        return undefined;
      },
    },
    {
      method: 'POST',
      path: '/processes/:id/wait-for-port',
      handler: async ({ req, res, params }) => {
        const p = processes.get(params.id!);
        return json(await waitForPort(p, parseWaitForPort(await readJson(req)), clientGone(res), listener));
      },
    },
    {
      method: 'POST',
      path: '/processes/:id/wait-for-log',
      handler: async ({ req, res, params }) => {
        const p = processes.get(params.id!);
        return json(await waitForLog(p, parseWaitForLog(await readJson(req)), clientGone(res)));
      },
    },
    {
      method: 'POST',
      path: '/processes/:id/wait-for-exit',
      handler: async ({ req, res, params }) => {
        const p = processes.get(params.id!);
        const { timeout } = parseWaitForExit(await readJson(req));
        return json(await waitForExit(p, timeout, clientGone(res)));
      },
    },
    {
      method: 'POST',
      path: '/exec',
      handler: async ({ req }) => {
        const body = parseExecRequest(await readJson(req));
        const cwd = await files.resolve(body.cwd ?? '/workspace', 'cwd');
        const r = await runCommand({
          file: 'bash',
          args: ['-c', body.command],
          cwd: cwd.hostPath,
          shownCwd: cwd.sandboxPath,
          env: { ...baseEnv, ...body.env },
          timeoutMs: body.timeout,
          groups,
        });
        if (r.timedOut) {
          // The command was ended (its whole group); the caller gets an error, with what it printed.
          throw new SandboxError(ErrorCode.TIMEOUT, `Command did not finish within ${body.timeout}ms and was stopped: ${body.command.slice(0, 200)}`, {
            command: body.command,
            stdout: r.stdout,
            stderr: r.stderr,
            exitCode: EXEC_TIMEOUT_EXIT_CODE,
            duration: r.durationMs,
          });
        }
        const exitCode = shellExitCode(r.exitCode, r.signal);
        // A command the kernel killed for memory says so where its caller looks: its stderr.
        const oom = exitCode === 137 && memory?.claimKill() === true;
        const limit = oom ? memory?.memoryLimit() : null;
        const result: ExecResult = {
          success: exitCode === 0 && !r.spawnError,
          exitCode,
          stdout: r.stdout,
          stderr: oom ? `${r.stderr}[${describeExit({ status: 'killed', reason: 'out-of-memory', ...(limit ? { memoryLimit: limit } : {}) })}]\n` : r.stderr,
          command: body.command,
          duration: r.durationMs,
        };
        return json(result);
      },
    },
  ];
}
