/**
 * The traffic inspector's contract: what the preview proxy records of each request through an
 * exposure's URL, as the control API answers it (GET …/ports/:port/requests and its stream). The
 * records live in the sandbox's Durable Object, never in the registry; credentials are redacted
 * before anything is kept.
 */
import { ErrorCode, SandboxError } from './errors';

/** How many requests each exposure keeps, and how many bytes of their bodies at most. */
export const TRAFFIC_ENTRIES = 200;
export const TRAFFIC_BYTES_PER_EXPOSURE = 4 * 1024 * 1024;
/** The most of one body that is kept; the rest is counted and marked truncated. */
export const TRAFFIC_BODY_BYTES = 64 * 1024;

/** The query parameter of a private preview's single-use link (redacted in what is kept). */
export const TICKET_PARAM = '__sandbox_ticket';

/** What stands in for a credential that was not kept. */
export const REDACTED = '[redacted]';
/** Headers whose values are credentials: never kept. */
export const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'] as const;
const CREDENTIALS = new Set<string>(CREDENTIAL_HEADERS);
const CREDENTIAL_LENGTHS = new Set<number>(CREDENTIAL_HEADERS.map((h) => h.length));

/** Whether a header (its lowercase name) carries a credential, which the inspector never keeps. */
export function isCredentialHeader(name: string): boolean {
  // By length first: each request's header names are new strings, and the set would hash each one.
  return CREDENTIAL_LENGTHS.has(name.length) && CREDENTIALS.has(name);
}

/** The first part of a body, as kept. */
export interface CapturedBody {
  /** Bytes the whole body had (with `sizeUnknown`: at least; a body of unknown length is counted to its first MiB). */
  size: number;
  sizeUnknown?: true;
  /** `text` bodies keep their text (up to TRAFFIC_BODY_BYTES); `binary` ones only their size and type. */
  kind: 'none' | 'text' | 'binary';
  contentType?: string;
  text?: string;
  /** More than TRAFFIC_BODY_BYTES came, or the body broke off: what is kept is not all of it. */
  truncated: boolean;
}

/** One WebSocket session through the preview: its frames and bytes each way, and how it closed. */
export interface WebSocketRecord {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  closeCode?: number;
  closeReason?: string;
}

/** One request as the inspector lists it (the bodies are in GET …/requests/:rid). */
export interface TrafficSummary {
  /** Counts up per exposure; also the SSE id. */
  id: number;
  port: number;
  /** When the request arrived (ISO-8601). */
  time: string;
  method: string;
  /** Path and query, the ticket parameter redacted. */
  path: string;
  status: number;
  /** `proxy`: the preview proxy answered (a wrong token, a private preview, nothing listening, a stopped sandbox). */
  answeredBy: 'service' | 'proxy';
  /** The proxy's error code, when it answered. */
  code?: ErrorCode;
  /** Milliseconds to the response's headers, and to its last byte (or the WebSocket's close). */
  ttfbMs: number;
  totalMs: number;
  /**
   * The response had no length and went on past its first MiB or 10 s, where the proxy stopped
   * following it (the runtime streamed the rest): `totalMs` is the time to that point, not to its end.
   */
  endUnseen?: true;
  /** Body bytes from the client, and to it (a lower bound where the body's `sizeUnknown`). */
  bytesIn: number;
  bytesOut: number;
  /** The recorded request this one replayed. */
  replayOf?: number;
  websocket?: WebSocketRecord;
  /** Set when the exchange broke off (the client went away, the service reset). */
  error?: string;
}

/** A request with its headers (credentials redacted) and the first part of its bodies. */
export interface TrafficEntry extends TrafficSummary {
  requestHeaders: [string, string][];
  responseHeaders: [string, string][];
  requestBody: CapturedBody;
  responseBody: CapturedBody;
  /** The credentials that were there and are not kept: header names, and `ticket` for the link parameter. */
  redacted: string[];
}

/** GET …/ports/:port/requests. */
export interface TrafficList {
  requests: TrafficSummary[];
  /** Where the stream stands as this list was made: open it with this as Last-Event-ID to miss nothing and get nothing twice ('' when nothing is recorded). */
  lastEventId: string;
  /** Whether requests are recorded now; `reason` says why not. */
  inspect: boolean;
  reason?: string;
}

/** SSE `event:` of each finished request on GET …/requests/stream (the SSE id is a position in finishing order, `{epoch}.{n}`). */
export const TRAFFIC_EVENT_NAME = 'request';
/** Sent when the exposure's records were cleared, or the stream cannot resume where asked. */
export const TRAFFIC_RESET_EVENT_NAME = 'reset';
/** Sent when the exposure ended (unexposed, expired, or the sandbox destroyed); the stream then closes. */
export const TRAFFIC_ENDED_EVENT_NAME = 'ended';

/** The tree's figure for an exposed port: requests since it was exposed (or cleared), and the last one's status. */
export interface PortTraffic {
  requests: number;
  lastStatus?: number;
  lastTime?: string;
}

/** `?limit=` and `?before=` of the list. */
export function parseTrafficQuery(limit: string | null, before: string | null): { limit: number; before?: number } {
  const out: { limit: number; before?: number } = { limit: TRAFFIC_ENTRIES };
  if (limit !== null) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > TRAFFIC_ENTRIES)
      throw new SandboxError(ErrorCode.INVALID_REQUEST, `'limit' must be a whole number from 1 to ${TRAFFIC_ENTRIES} (got '${limit.slice(0, 20)}')`);
    out.limit = n;
  }
  if (before !== null) {
    if (!/^\d{1,15}$/.test(before)) throw new SandboxError(ErrorCode.INVALID_REQUEST, `'before' must be a request id, a whole number (got '${before.slice(0, 20)}')`);
    out.before = Number(before);
  }
  return out;
}

export function checkRequestId(value: unknown): number {
  const s = typeof value === 'number' ? String(value) : value;
  if (typeof s !== 'string' || !/^\d{1,15}$/.test(s))
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `A request id is a whole number (got ${JSON.stringify(value)?.slice(0, 30)})`);
  return Number(s);
}

/** The credentials a replay may restore: `{ authorization?, cookie? }`, strings. */
export function parseReplayBody(raw: Record<string, unknown>): { authorization?: string; cookie?: string } {
  const out: { authorization?: string; cookie?: string } = {};
  for (const key of Object.keys(raw)) {
    if (key !== 'authorization' && key !== 'cookie') {
      throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field '${key}' is not something a replay takes: only 'authorization' and 'cookie', the credentials that were redacted`);
    }
    const v = raw[key];
    if (typeof v !== 'string' || v.length === 0 || v.length > 8192 || /[\r\n\0]/.test(v)) {
      throw new SandboxError(ErrorCode.INVALID_REQUEST, `Field '${key}' must be a header value: a string of 1-8192 characters on one line`);
    }
    out[key] = v;
  }
  return out;
}
