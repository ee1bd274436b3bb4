/**
 * The operations a Sandbox Durable Object performs, one function each. Inputs arrive from RPC
 * (SDK callers and the control API alike) and are validated here, once, before reaching the agent.
 */
import {
  ErrorCode,
  SandboxError,
  checkProbePort,
  checkUserPort,
  generateToken,
  type ExposedPort,
  checkProcessId,
  isSignalName,
  parseGraceMs,
  fileContent,
  optionalBoolean,
  optionalEnv,
  optionalInteger,
  optionalString,
  requireString,
  MAX_TIMEOUT_MS,
  type DetectedPort,
  type ExecResult,
  type ProcessInfo,
  type ProcessLogs,
  type SandboxCreateOptions,
  type SandboxState,
  type FileContent,
  type SandboxStatus,
  type TunnelInfo,
  type WaitForLogResult,
  type WaitForPortOptions,
} from '../protocol/index';
import type { OpsContext } from './context';
import { exposureUrl, isExpired, planExpose, toExposedPort } from './exposures';

type Obj = Record<string, unknown>;

function asObject(value: unknown, what: string): Obj {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `${what} must be an object`);
  }
  return value as Obj;
}

function commandOf(command: unknown): string {
  return requireString({ command }, 'command', 64 * 1024);
}

function pidOf(id: unknown): string {
  return checkProcessId(id);
}

function timeoutOf(body: Obj): number | undefined {
  return optionalInteger(body, 'timeout', 1, MAX_TIMEOUT_MS);
}

function notFoundToNull<T>(p: Promise<T>): Promise<T | null> {
  return p.catch((err) => {
    if (err instanceof SandboxError && err.code === ErrorCode.PROCESS_NOT_FOUND) return null;
    throw err;
  });
}

function readinessOptions(options: unknown): WaitForPortOptions {
  const o = asObject(options, 'waitForPort options');
  const mode = o.mode ?? 'http';
  if (mode !== 'http' && mode !== 'tcp') {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'mode' must be 'http' or 'tcp' (got ${JSON.stringify(mode)})`);
  }
  const path = optionalString(o, 'path', 2048);
  if (path !== undefined && !path.startsWith('/')) {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'path' must start with '/' (got ${JSON.stringify(path)})`);
  }
  let status: WaitForPortOptions['status'];
  if (typeof o.status === 'number') status = optionalInteger(o, 'status', 100, 599);
  else if (o.status !== undefined && o.status !== null) {
    const s = asObject(o.status, "Field 'status'");
    const min = optionalInteger(s, 'min', 100, 599);
    const max = optionalInteger(s, 'max', 100, 599);
    if (min === undefined || max === undefined || min > max) {
      throw new SandboxError(ErrorCode.INVALID_REQUEST, "Field 'status' must be a number or { min, max } with 100 <= min <= max <= 599");
    }
    status = { min, max };
  }
  return {
    mode,
    path,
    status,
    timeout: timeoutOf(o),
    interval: optionalInteger(o, 'interval', 10, 60_000),
  };
}

export const sandboxOps = {
  async exposePort(sb: OpsContext, port: unknown, options?: unknown): Promise<ExposedPort> {
    const plan = planExpose(sb.exposures(), port, options, {
      sandboxId: sb.id,
      defaultHostname: sb.defaultPreviewHostname(),
      now: Date.now(),
      generation: sb.mintGeneration(),
      newToken: () => generateToken(),
    });
    const { exposure } = plan;
    if (plan.changed) {
      const conflict = await sb.previewConflict(exposure.port, exposure.token);
      if (conflict) {
        throw new SandboxError(
          ErrorCode.TOKEN_CONFLICT,
          `The preview URL ${exposureUrl(exposure, sb.id)} would also name sandbox '${conflict.sandboxId}' port ${conflict.port}, which has it already: choose another token`,
        );
      }
      const map = sb.exposures();
      map[String(exposure.port)] = exposure;
      sb.saveExposures(map);
      if (exposure.expiresAt) {
        // The scheduler keeps whole seconds (rounding down): round up so it never fires early.
        const at = new Date(Math.ceil(Date.parse(exposure.expiresAt) / 1000) * 1000);
        await sb.schedule(at, 'expireExposure', { port: exposure.port, token: exposure.token });
      }
      await sb.publish({ type: 'port-exposed', sandboxId: sb.id, port: toExposedPort(exposure, sb.id) });
    }
    return toExposedPort(exposure, sb.id);
  },

  async unexposePort(sb: OpsContext, port: unknown): Promise<void> {
    const p = checkUserPort(port);
    const map = sb.exposures();
    if (!map[String(p)]) return;
    delete map[String(p)];
    sb.saveExposures(map);
    await sb.publish({ type: 'port-unexposed', sandboxId: sb.id, port: p });
  },

  async getExposedPorts(sb: OpsContext): Promise<{ ports: ExposedPort[]; count: number }> {
    const ports = sb.exposedPorts();
    return { ports, count: ports.length };
  },

  async createTicket(sb: OpsContext, port: unknown): Promise<{ url: string; expiresAt: string }> {
    const p = checkUserPort(port);
    const e = sb.exposureFor(p);
    if (!e || isExpired(e, Date.now())) throw new SandboxError(ErrorCode.NOT_FOUND, `Port ${p} is not exposed in sandbox '${sb.id}'`);
    return sb.createTicket(e);
  },

  async create(sb: OpsContext, sandboxId: string, options: SandboxCreateOptions = {}): Promise<{ state: SandboxState; created: boolean }> {
    const { created } = await sb.register(sandboxId, options);
    await sb.ensureAgent();
    return { state: await sb.snapshot(), created };
  },

  /** Cheap: no agent call, so listing many sandboxes stays fast. */
  async status(sb: OpsContext): Promise<SandboxStatus> {
    return sb.status();
  },

  state(sb: OpsContext): Promise<SandboxState> {
    return sb.snapshot();
  },

  destroy(sb: OpsContext): Promise<void> {
    return sb.destroySandbox();
  },

  async exec(sb: OpsContext, command: unknown, options?: unknown): Promise<ExecResult> {
    const o = asObject(options, 'exec options');
    const req = { command: commandOf(command), cwd: optionalString(o, 'cwd'), env: optionalEnv(o, 'env'), timeout: timeoutOf(o) };
    return (await sb.ensureAgent()).exec(req);
  },

  async startProcess(sb: OpsContext, command: unknown, options?: unknown): Promise<ProcessInfo> {
    const o = asObject(options, 'startProcess options');
    const processId = o.processId === undefined || o.processId === null ? undefined : checkProcessId(o.processId);
    const req = { command: commandOf(command), cwd: optionalString(o, 'cwd'), env: optionalEnv(o, 'env'), processId };
    return (await sb.ensureAgent()).startProcess(req);
  },

  async listProcesses(sb: OpsContext): Promise<ProcessInfo[]> {
    return (await sb.ensureAgent()).listProcesses();
  },

  async getProcess(sb: OpsContext, id: unknown): Promise<ProcessInfo | null> {
    const pid = pidOf(id);
    return notFoundToNull((await sb.ensureAgent()).getProcess(pid));
  },

  /** Sends `signal`, then SIGKILL after `graceMs` (default 5 s) if the process still runs. */
  async killProcess(sb: OpsContext, id: unknown, signal: unknown = 'SIGTERM', graceMs?: unknown): Promise<void> {
    const pid = pidOf(id);
    if (!isSignalName(signal)) {
      throw new SandboxError(ErrorCode.INVALID_SIGNAL, `Unknown signal ${JSON.stringify(signal)}: use SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 or SIGUSR2`);
    }
    let grace: number;
    try {
      grace = parseGraceMs(graceMs);
    } catch (err) {
      throw new SandboxError(ErrorCode.INVALID_REQUEST, (err as Error).message);
    }
    await (await sb.ensureAgent()).killProcess(pid, signal, grace);
  },

  async killAllProcesses(sb: OpsContext): Promise<number> {
    if (sb.status() !== 'running') return 0;
    return sb.agent.killAllProcesses();
  },

  async getProcessLogs(sb: OpsContext, id: unknown): Promise<ProcessLogs> {
    return (await sb.ensureAgent()).getProcessLogs(pidOf(id));
  },

  async streamProcessLogs(sb: OpsContext, id: unknown, lastEventId?: unknown): Promise<ReadableStream> {
    const last = typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId) ? lastEventId : undefined;
    const res = await (await sb.ensureAgent()).streamProcessLogs(pidOf(id), last);
    return res.body!;
  },

  async waitForPort(sb: OpsContext, id: unknown, port: unknown, options?: unknown): Promise<{ ready: true }> {
    const pid = pidOf(id);
    const p = checkProbePort(port);
    return (await sb.ensureAgent()).waitForPort(pid, { port: p, ...readinessOptions(options) });
  },

  async waitForLog(sb: OpsContext, id: unknown, pattern: unknown, options?: unknown): Promise<WaitForLogResult> {
    const pid = pidOf(id);
    const o = asObject(options, 'waitForLog options');
    const req = {
      pattern: requireString({ pattern }, 'pattern', 4096),
      regex: optionalBoolean(o, 'regex'),
      flags: optionalString(o, 'flags', 8),
      timeout: timeoutOf(o),
    };
    return (await sb.ensureAgent()).waitForLog(pid, req);
  },

  async waitForExit(sb: OpsContext, id: unknown, timeout?: unknown): Promise<{ exitCode: number | null }> {
    const t = timeoutOf({ timeout });
    return (await sb.ensureAgent()).waitForExit(pidOf(id), t);
  },

  async writeFile(sb: OpsContext, path: unknown, content: unknown, encoding?: unknown): Promise<{ path: string; size: number }> {
    const p = requireString({ path }, 'path', 4096);
    const enc = optionalString({ encoding }, 'encoding', 16);
    if (enc !== undefined && enc !== 'utf-8' && enc !== 'utf8' && enc !== 'base64') {
      throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'encoding' must be 'utf-8' or 'base64' (got ${JSON.stringify(enc)})`);
    }
    let body: Uint8Array | ReadableStream;
    if (typeof content === 'string') body = new TextEncoder().encode(content);
    else if (content instanceof Uint8Array || content instanceof ReadableStream) body = content;
    else if (content instanceof ArrayBuffer) body = new Uint8Array(content);
    else throw new SandboxError(ErrorCode.INVALID_REQUEST, 'File content must be a string, bytes or a stream');
    return (await sb.ensureAgent()).writeFile(p, body, enc);
  },

  /** Text as UTF-8, anything else as base64 (or as `encoding` says), with its type and size. */
  async readFile(sb: OpsContext, path: unknown, encoding?: unknown): Promise<FileContent> {
    const p = requireString({ path }, 'path', 4096);
    if (encoding !== undefined && encoding !== 'utf-8' && encoding !== 'utf8' && encoding !== 'base64') {
      throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field 'encoding' must be 'utf-8' or 'base64' (got ${JSON.stringify(encoding)})`);
    }
    const res = await (await sb.ensureAgent()).readFile(p);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return fileContent(p, bytes, encoding === undefined ? undefined : encoding === 'base64' ? 'base64' : 'utf-8');
  },

  async readFileStream(sb: OpsContext, path: unknown): Promise<ReadableStream> {
    const p = requireString({ path }, 'path', 4096);
    const res = await (await sb.ensureAgent()).readFile(p);
    return res.body!;
  },

  async mkdir(sb: OpsContext, path: unknown, options?: unknown): Promise<{ path: string }> {
    const p = requireString({ path }, 'path', 4096);
    const recursive = optionalBoolean(asObject(options, 'mkdir options'), 'recursive') ?? true;
    return (await sb.ensureAgent()).mkdir(p, recursive);
  },

  async checkout(sb: OpsContext, repoUrl: unknown, options?: unknown): Promise<{ path: string }> {
    const o = asObject(options, 'checkout options');
    const req = { repoUrl: requireString({ repoUrl }, 'repoUrl', 4096), branch: optionalString(o, 'branch', 256), targetDir: optionalString(o, 'targetDir') };
    return (await sb.ensureAgent()).checkout(req);
  },

  /** A quick tunnel for a port: idempotent, same record for the same port. */
  async getTunnel(sb: OpsContext, port: unknown): Promise<TunnelInfo> {
    const p = checkUserPort(port);
    const tunnel = await (await sb.ensureAgent()).tunnel(p);
    sb.live.tunnels.set(tunnel.port, tunnel);
    return tunnel;
  },

  async listTunnels(sb: OpsContext): Promise<TunnelInfo[]> {
    if (sb.status() !== 'running') return [];
    return sb.agent.tunnels();
  },

  /** Accepts a port or a TunnelInfo; an unknown port resolves. */
  async destroyTunnel(sb: OpsContext, portOrInfo: unknown): Promise<void> {
    const raw = portOrInfo && typeof portOrInfo === 'object' ? (portOrInfo as { port?: unknown }).port : portOrInfo;
    const p = checkUserPort(raw);
    if (sb.status() !== 'running') return;
    await sb.agent.destroyTunnel(p);
    sb.live.tunnels.delete(p);
  },

  async detectedPorts(sb: OpsContext): Promise<DetectedPort[]> {
    if (sb.status() !== 'running') return [];
    return sb.agent.detectedPorts();
  },
};

export type SandboxOps = {
  [K in keyof typeof sandboxOps]: (typeof sandboxOps)[K] extends (sb: OpsContext, ...a: infer A) => infer R ? (...a: A) => R : never;
};
