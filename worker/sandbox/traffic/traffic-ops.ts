/**
 * The traffic inspector's operations on one exposure, behind the control API: list, one entry,
 * clear, the live stream, and replay. Each refuses a port that is not exposed; a list says plainly
 * when nothing is recorded and why.
 */
import { ErrorCode, REDACTED, SandboxError, checkRequestId, checkUserPort, parseReplayBody, parseTrafficQuery, type TrafficEntry, type TrafficList } from '../../protocol/index';
import { exposureUrl, isExpired, type Exposure } from '../exposures';
import type { TrafficLog } from './traffic-log';
import { trafficStream } from './traffic-stream';

export interface TrafficContext {
  readonly id: string;
  readonly traffic: TrafficLog | null;
  exposureFor(port: number): Exposure | undefined;
  /** Sends a request through the preview path, recorded as a replay of `replayOf`. */
  replayRecorded(exposure: Exposure, request: Request, replayOf: number): Promise<{ response: Response; kept: Promise<TrafficEntry> }>;
}

function exposed(sb: TrafficContext, port: unknown): Exposure {
  const p = checkUserPort(port);
  const e = sb.exposureFor(p);
  if (!e || isExpired(e, Date.now())) throw new SandboxError(ErrorCode.NOT_FOUND, `Port ${p} is not exposed in sandbox '${sb.id}': nothing is recorded of it`);
  return e;
}

function why(sb: TrafficContext, e: Exposure): string | undefined {
  if (!sb.traffic) return 'The traffic inspector is off for this Worker (SANDBOX_INSPECT=off)';
  if (e.inspect === false) return `Inspection is off for port ${e.port} (exposed with inspect: false)`;
  return undefined;
}

/** The port's exposure and log, when it is recorded; INSPECTION_OFF saying why not. */
function recorded(sb: TrafficContext, port: unknown): { e: Exposure; log: TrafficLog } {
  const e = exposed(sb, port);
  const reason = why(sb, e);
  if (reason || !sb.traffic) throw new SandboxError(ErrorCode.INSPECTION_OFF, reason ?? 'The traffic inspector is off');
  return { e, log: sb.traffic };
}

function entry(sb: TrafficContext, e: Exposure, rid: unknown): TrafficEntry {
  const id = checkRequestId(rid);
  const found = sb.traffic?.get(e.port, id);
  if (!found) throw new SandboxError(ErrorCode.NOT_FOUND, `Request ${id} of port ${e.port} is not kept: it was cleared, or newer requests took its place`);
  return found;
}

export const trafficOps = {
  async listRequests(sb: TrafficContext, port: unknown, limit?: unknown, before?: unknown): Promise<TrafficList> {
    const e = exposed(sb, port);
    const query = parseTrafficQuery(typeof limit === 'string' ? limit : null, typeof before === 'string' ? before : null);
    const reason = why(sb, e);
    const lastEventId = sb.traffic && !reason ? sb.traffic.position(e.port) : '';
    return { requests: sb.traffic?.list(e.port, query) ?? [], lastEventId, inspect: reason === undefined, ...(reason ? { reason } : {}) };
  },

  async getRequest(sb: TrafficContext, port: unknown, rid: unknown): Promise<TrafficEntry> {
    return entry(sb, exposed(sb, port), rid);
  },

  async clearRequests(sb: TrafficContext, port: unknown): Promise<void> {
    sb.traffic?.clear(exposed(sb, port).port);
  },

  async streamRequests(sb: TrafficContext, port: unknown, lastEventId?: unknown): Promise<ReadableStream> {
    const { e, log } = recorded(sb, port);
    // A position this log never gave (malformed, from another run) resumes as `reset`.
    const last = typeof lastEventId === 'string' && lastEventId.length > 0 ? lastEventId.slice(0, 64) : undefined;
    return trafficStream(log, e.port, last);
  },

  /**
   * The recorded request again, through the preview path: same method, path, headers and body, the
   * redacted credentials restored only when the caller gives them. Answers the new entry.
   */
  async replayRequest(sb: TrafficContext, port: unknown, rid: unknown, credentials?: unknown): Promise<TrafficEntry> {
    const { e } = recorded(sb, port);
    const original = entry(sb, e, rid);
    const creds = parseReplayBody(credentials && typeof credentials === 'object' ? (credentials as Record<string, unknown>) : {});
    const body = original.requestBody;
    if (body.truncated) {
      throw new SandboxError(
        ErrorCode.REPLAY_IMPOSSIBLE,
        `Request ${original.id} cannot be replayed: its body (${body.size} bytes) was not kept whole (the inspector keeps the first 64 KiB)`,
      );
    }
    if (body.kind === 'binary')
      throw new SandboxError(
        ErrorCode.REPLAY_IMPOSSIBLE,
        `Request ${original.id} cannot be replayed: its body is binary (${body.contentType ?? 'no type'}), which the inspector keeps only by size`,
      );
    if (original.websocket || original.status === 101)
      throw new SandboxError(ErrorCode.REPLAY_IMPOSSIBLE, `Request ${original.id} was a WebSocket session: a replay would be a new session, open one instead`);
    const headers = new Headers();
    for (const [name, value] of original.requestHeaders) {
      if (value !== REDACTED) headers.append(name, value);
      else if (name === 'authorization' && creds.authorization) headers.set(name, creds.authorization);
      else if (name === 'cookie' && creds.cookie) headers.set(name, creds.cookie);
    }
    headers.delete('content-length');
    const url = new URL(original.path.replace(/^\/+/, '/'), exposureUrl(e, sb.id));
    const request = new Request(url, { method: original.method, headers, ...(body.kind === 'text' ? { body: body.text } : {}) });
    const { response, kept } = await sb.replayRecorded(e, request, original.id);
    // The new entry is kept once its answer has been read to the end.
    await response.body?.pipeTo(new WritableStream()).catch(() => {});
    return kept;
  },
};
