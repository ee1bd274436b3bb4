/**
 * The operations a Sandbox Durable Object performs, one function each. Inputs arrive from RPC
 * (SDK callers and the control API alike) and are checked by the protocol's request parsers
 * (worker/protocol/requests.ts) before reaching the agent, which runs the same parsers again.
 */
import {
  ErrorCode,
  SandboxError,
  asObject,
  checkUserPort,
  checkProcessId,
  generateToken,
  fileContent,
  parseCheckout,
  parseEncoding,
  parseExecRequest,
  parseKill,
  parseMkdir,
  parsePath,
  parseStartRequest,
  parseWaitForExit,
  parseWaitForLog,
  parseWaitForPort,
  type ExposedPort,
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
} from '../protocol/index';
import type { OpsContext } from './context';
import { exposureUrl, isExpired, planExpose, toExposedPort } from './exposures';
import { withTraffic } from './traffic/traffic-tally';
import { trafficOps } from './traffic/traffic-ops';

function notFoundToNull<T>(p: Promise<T>): Promise<T | null> {
  return p.catch((err) => {
    if (err instanceof SandboxError && err.code === ErrorCode.PROCESS_NOT_FOUND) return null;
    throw err;
  });
}

export const sandboxOps = {
  ...trafficOps,

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
      const before = map[String(exposure.port)];
      map[String(exposure.port)] = exposure;
      sb.saveExposures(map);
      // Inspected or not changed: an open inspector starts over and reads which from the list.
      if (before && (before.inspect !== false) !== (exposure.inspect !== false)) sb.traffic?.clear(exposure.port);
      if (exposure.expiresAt) {
        // The scheduler keeps whole seconds (rounding down): round up so it never fires early.
        const at = new Date(Math.ceil(Date.parse(exposure.expiresAt) / 1000) * 1000);
        await sb.schedule(at, 'expireExposure', { port: exposure.port, token: exposure.token });
      }
      await sb.publish({ type: 'port-exposed', sandboxId: sb.id, port: withTraffic(toExposedPort(exposure, sb.id), sb.traffic) });
    }
    return toExposedPort(exposure, sb.id);
  },

  async unexposePort(sb: OpsContext, port: unknown): Promise<void> {
    const p = checkUserPort(port);
    const map = sb.exposures();
    if (!map[String(p)]) return;
    delete map[String(p)];
    sb.saveExposures(map);
    sb.traffic?.drop(p);
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
    const req = parseExecRequest({ ...asObject(options, 'exec options'), command });
    return (await sb.ensureAgent()).exec(req);
  },

  async startProcess(sb: OpsContext, command: unknown, options?: unknown): Promise<ProcessInfo> {
    const req = parseStartRequest({ ...asObject(options, 'startProcess options'), command });
    return (await sb.ensureAgent()).startProcess(req);
  },

  async listProcesses(sb: OpsContext): Promise<ProcessInfo[]> {
    return (await sb.ensureAgent()).listProcesses();
  },

  async getProcess(sb: OpsContext, id: unknown): Promise<ProcessInfo | null> {
    const pid = checkProcessId(id);
    return notFoundToNull((await sb.ensureAgent()).getProcess(pid));
  },

  /** Sends `signal`, then SIGKILL after `graceMs` (default 5 s) if the process still runs. */
  async killProcess(sb: OpsContext, id: unknown, signal?: unknown, graceMs?: unknown): Promise<void> {
    const pid = checkProcessId(id);
    const kill = parseKill(signal, graceMs);
    await (await sb.ensureAgent()).killProcess(pid, kill.signal, kill.graceMs);
  },

  async killAllProcesses(sb: OpsContext): Promise<number> {
    if (sb.status() !== 'running') return 0;
    return sb.agent.killAllProcesses();
  },

  async getProcessLogs(sb: OpsContext, id: unknown): Promise<ProcessLogs> {
    return (await sb.ensureAgent()).getProcessLogs(checkProcessId(id));
  },

  async streamProcessLogs(sb: OpsContext, id: unknown, lastEventId?: unknown): Promise<ReadableStream> {
    const last = typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId) ? lastEventId : undefined;
    const res = await (await sb.ensureAgent()).streamProcessLogs(checkProcessId(id), last);
    return res.body!;
  },

  async waitForPort(sb: OpsContext, id: unknown, port: unknown, options?: unknown): Promise<{ ready: true }> {
    const pid = checkProcessId(id);
    const req = parseWaitForPort({ ...asObject(options, 'waitForPort options'), port });
    return (await sb.ensureAgent()).waitForPort(pid, req);
  },

  async waitForLog(sb: OpsContext, id: unknown, pattern: unknown, options?: unknown): Promise<WaitForLogResult> {
    const pid = checkProcessId(id);
    const req = parseWaitForLog({ ...asObject(options, 'waitForLog options'), pattern });
    return (await sb.ensureAgent()).waitForLog(pid, req);
  },

  async waitForExit(sb: OpsContext, id: unknown, timeout?: unknown): Promise<{ exitCode: number | null }> {
    const pid = checkProcessId(id);
    const req = parseWaitForExit({ timeout });
    return (await sb.ensureAgent()).waitForExit(pid, req.timeout);
  },

  async writeFile(sb: OpsContext, path: unknown, content: unknown, encoding?: unknown): Promise<{ path: string; size: number }> {
    const p = parsePath(path);
    const enc = parseEncoding(encoding);
    let body: Uint8Array | ReadableStream;
    if (typeof content === 'string') body = new TextEncoder().encode(content);
    else if (content instanceof Uint8Array || content instanceof ReadableStream) body = content;
    else if (content instanceof ArrayBuffer) body = new Uint8Array(content);
    else throw new SandboxError(ErrorCode.INVALID_REQUEST, 'File content must be a string, bytes or a stream');
    return (await sb.ensureAgent()).writeFile(p, body, enc);
  },

  /** Text as UTF-8, anything else as base64 (or as `encoding` says), with its type and size. */
  async readFile(sb: OpsContext, path: unknown, encoding?: unknown): Promise<FileContent> {
    const p = parsePath(path);
    const enc = parseEncoding(encoding);
    const res = await (await sb.ensureAgent()).readFile(p);
    return fileContent(p, new Uint8Array(await res.arrayBuffer()), enc);
  },

  async readFileStream(sb: OpsContext, path: unknown): Promise<ReadableStream> {
    const p = parsePath(path);
    const res = await (await sb.ensureAgent()).readFile(p);
    return res.body!;
  },

  async mkdir(sb: OpsContext, path: unknown, options?: unknown): Promise<{ path: string }> {
    // The SDK's mkdir makes the whole path unless told `recursive: false` (as `mkdir -p`).
    const o = asObject(options, 'mkdir options');
    const req = parseMkdir({ ...o, path, recursive: o.recursive ?? true });
    return (await sb.ensureAgent()).mkdir(req.path, req.recursive);
  },

  async checkout(sb: OpsContext, repoUrl: unknown, options?: unknown): Promise<{ path: string }> {
    const req = parseCheckout({ ...asObject(options, 'checkout options'), repoUrl });
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
