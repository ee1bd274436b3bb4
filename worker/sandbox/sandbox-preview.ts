/**
 * The Durable Object half of the preview proxy: checks the token and, for private previews, the
 * credentials; exchanges a ticket for a cookie; then passes the request to the service through
 * `ctx.container.getTcpPort(port).fetch`, streaming both ways. A WebSocket upgrade is answered
 * with the service's own response, so frames pass with no JavaScript per message.
 */
import {
  ErrorCode,
  SandboxError,
  type TrafficEntry,
  TICKET_PARAM,
  bearerMatches,
  checkUserPort,
  isLoopbackAddress,
  matchPreviewHost,
  timingSafeEqualStrings,
  type ListenerInfo,
} from '../protocol/index';
import { errorResponse } from '../edge/http';
import { previewErrorResponse } from '../edge/preview-errors';
import { stripHopByHop } from '../edge/hop-headers';
import { isExpired, type Exposure } from './exposures';
import { PREVIEW_COOKIE, previewCookieHeader, readCookie, signPreviewCookie, verifyPreviewCookie } from './preview-auth';
import { MISS_HEADER, ROUTE_HEADER } from '../edge/preview-route';
import type { PreviewContext } from './context';
import { declaredLength } from './traffic/body-capture';
import { Recording } from './traffic/recording';
import { relaySocket } from './traffic/socket-watch';

const NOT_LISTENING = 'the container is not listening';

function miss(): Response {
  // JSON with a mark: the Worker's proxy makes the answer the client reads (notFound).
  return errorResponse(new SandboxError(ErrorCode.INVALID_TOKEN, 'No preview at this address: the sandbox, port or token is unknown'), {
    [MISS_HEADER]: '1',
  });
}

/** A response, and who made it: the service, or this proxy (with its error code). */
interface Answer {
  response: Response;
  by: 'service' | 'proxy';
  code?: ErrorCode;
}

function proxyError(request: Request, err: SandboxError, headers?: HeadersInit): Answer {
  return { response: previewErrorResponse(request, err, headers), by: 'proxy', code: err.code };
}

export async function handlePreview(sb: PreviewContext, request: Request): Promise<Response> {
  if (!sb.hasId()) return miss();
  const url = new URL(request.url);
  const route = matchPreviewHost(url.host, sb.id);
  if (!route) return miss();
  const exposure = sb.exposureFor(route.port);
  if (!exposure || isExpired(exposure, Date.now())) return miss();
  // Recorded from here on: every request to an exposed port, the ones the proxy refuses too.
  const recording = sb.traffic && exposure.inspect !== false ? new Recording(sb.traffic, route.port, request, url) : null;
  if (!timingSafeEqualStrings(exposure.token, route.token)) {
    const response = miss();
    return recording ? recording.finish(response, { by: 'proxy', code: ErrorCode.INVALID_TOKEN }) : response;
  }
  const answer = await answerPreview(sb, request, url, exposure, route.port, recording ?? undefined);
  if (!recording) return answer.response;
  if (answer.response.webSocket) {
    const socket = relaySocket(answer.response);
    return recording.finish(socket.response, answer, socket);
  }
  return recording.finish(answer.response, answer);
}

async function answerPreview(sb: PreviewContext, request: Request, url: URL, exposure: Exposure, port: number, copyBody?: BodyCopier): Promise<Answer> {
  const ticket = url.search.includes(TICKET_PARAM) ? url.searchParams.get(TICKET_PARAM) : null;
  if (ticket !== null) return redeemTicket(sb, request, exposure, url, ticket);
  if (exposure.visibility === 'private' && !(await authorized(sb, exposure, request))) {
    return proxyError(
      request,
      new SandboxError(
        ErrorCode.PREVIEW_AUTH_REQUIRED,
        'This preview is private: send the control API token as a bearer token, or open a ticket link (POST /api/v1/sandboxes/:id/ports/:port/ticket)',
      ),
    );
  }
  return forward(
    sb,
    request,
    url,
    port,
    {
      host: url.host,
      proto: url.protocol === 'https:' ? 'https' : 'http',
      clientIp: sb.clientAddress(request),
      private: exposure.visibility === 'private',
    },
    copyBody,
  );
}

/**
 * Sends a recorded request again through the preview path (traffic inspector's Replay), as the
 * service would get it from a client: recorded as a new entry linked to the first. The caller
 * proved it holds the control API's token, which also opens a private preview.
 */
export async function replayPreview(sb: PreviewContext, exposure: Exposure, request: Request, replayOf: number): Promise<{ response: Response; kept: Promise<TrafficEntry> }> {
  if (!sb.traffic) throw new SandboxError(ErrorCode.INSPECTION_OFF, 'The traffic inspector is off for this Worker (SANDBOX_INSPECT=off)');
  const url = new URL(request.url);
  const recording = new Recording(sb.traffic, exposure.port, request, url, replayOf);
  const answer = await forward(
    sb,
    request,
    url,
    exposure.port,
    { host: url.host, proto: url.protocol === 'https:' ? 'https' : 'http', clientIp: sb.clientAddress(request), private: exposure.visibility === 'private' },
    recording,
  );
  return { response: recording.finish(answer.response, answer), kept: recording.kept };
}

/** wsConnect: a WebSocket straight to a port of the sandbox, without a preview URL or token. */
export async function handleDirectWebSocket(sb: PreviewContext, request: Request, port: number): Promise<Response> {
  try {
    checkUserPort(port);
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      throw new SandboxError(ErrorCode.INVALID_REQUEST, 'wsConnect needs a WebSocket upgrade request (Upgrade: websocket)');
    }
  } catch (err) {
    return errorResponse(err);
  }
  const url = new URL(request.url);
  return (await forward(sb, request, url, port, { host: url.host, proto: 'http', clientIp: sb.clientAddress(request), private: false })).response;
}

async function authorized(sb: PreviewContext, exposure: Exposure, request: Request): Promise<boolean> {
  if (bearerMatches(request.headers.get('authorization'), sb.apiToken)) return true;
  const cookie = readCookie(request.headers.get('cookie'), PREVIEW_COOKIE);
  const secret = sb.apiToken;
  if (!cookie || !secret) return false;
  return verifyPreviewCookie(secret, { sandboxId: sb.id, port: exposure.port, token: exposure.token }, cookie, Date.now());
}

async function redeemTicket(sb: PreviewContext, request: Request, exposure: Exposure, url: URL, ticket: string): Promise<Answer> {
  const secret = sb.apiToken;
  if (!secret || !sb.consumeTicket(ticket, exposure)) {
    return proxyError(
      request,
      new SandboxError(ErrorCode.PREVIEW_AUTH_REQUIRED, 'This preview link has expired or was already used: ask for a new one (tickets work once, for one minute)'),
    );
  }
  const value = await signPreviewCookie(secret, { sandboxId: sb.id, port: exposure.port, token: exposure.token }, Date.now());
  url.searchParams.delete(TICKET_PARAM);
  // One leading slash, whatever the link had: `//evil.example/` or `/\evil.example/` as a Location
  // would send the browser to another host.
  const path = `/${url.pathname.replace(/^[/\\]+/, '')}`;
  const clean = path + (url.searchParams.size > 0 ? `?${url.searchParams}` : '');
  return { response: new Response(null, { status: 302, headers: { location: clean, 'set-cookie': previewCookieHeader(value), 'cache-control': 'no-store' } }), by: 'proxy' };
}

interface ForwardInfo {
  host: string;
  proto: string;
  clientIp: string | null;
  private: boolean;
}

/** Copies a request body into the proxy's pipe to the service (the inspector's Recording, when it records). */
interface BodyCopier {
  copyRequestBody(body: ReadableStream<Uint8Array>, out: WritableStream<Uint8Array>, length: number | null): Promise<void>;
}

async function forward(sb: PreviewContext, request: Request, url: URL, port: number, info: ForwardInfo, copyBody?: BodyCopier): Promise<Answer> {
  if (!(await sb.attachIfRunning().catch(() => false))) {
    // Preview traffic never starts a sandbox: a link must not wake something that was stopped.
    return proxyError(request, new SandboxError(ErrorCode.SANDBOX_NOT_RUNNING, `Sandbox '${sb.id}' is not running: start it (any API call does) and try again`), {
      'retry-after': '10',
    });
  }
  sb.renewActivityTimeout();
  const headers = new Headers(request.headers);
  headers.delete(ROUTE_HEADER);
  headers.delete('host');
  stripHopByHop(headers);
  // The service gets neither the control API's token nor the preview cookie.
  if (bearerMatches(headers.get('authorization'), sb.apiToken)) headers.delete('authorization');
  if (info.private) stripPreviewCookie(headers);
  // Only this proxy says where the client is: a client's own claims do not reach the service.
  headers.delete('forwarded');
  headers.delete('x-real-ip');
  if (info.clientIp) headers.set('cf-connecting-ip', info.clientIp);
  else headers.delete('cf-connecting-ip');
  headers.set('x-forwarded-host', info.host);
  headers.set('x-forwarded-proto', info.proto);
  if (info.clientIp) {
    const prior = headers.get('x-forwarded-for');
    headers.set('x-forwarded-for', prior ? `${prior}, ${info.clientIp}` : info.clientIp);
  }
  const target = `http://localhost:${port}${url.pathname}${url.search}`;
  const body = watchBody(request, copyBody);
  let response: Response;
  try {
    // A plain init, not a Request: the container's fetch builds the one request that goes out.
    response = await sb.tcpPort(port).fetch(target, { method: request.method, headers, body: body?.stream ?? null, redirect: 'manual' });
  } catch (err) {
    if (body?.failed()) return brokenBody(request, body.failed()!);
    const message = (err as Error).message ?? String(err);
    if (!message.includes(NOT_LISTENING) && !/connection|refused|connect/i.test(message)) throw err;
    return proxyError(request, await unavailable(sb, port));
  }
  // The runtime may end the upstream request early instead of failing it when the client's body
  // breaks; the service's answer to a cut-short body is not the client's answer.
  if (body?.failed()) {
    await response.body?.cancel().catch(() => {});
    return brokenBody(request, body.failed()!);
  }
  return { response, by: 'service' };
}

function brokenBody(request: Request, reason: string): Answer {
  return proxyError(
    request,
    new SandboxError(ErrorCode.INVALID_REQUEST, `Could not read the request body: ${reason} (send a complete body with a valid Content-Length or chunked encoding)`),
  );
}

/**
 * The request body as it goes to the service, watched. A chunked body the runtime cannot decode
 * (a bad chunk size) either fails the upstream fetch like a refused connection would or ends it
 * early; only this tells either from the service's own doing. A body with a Content-Length passes
 * untouched (the runtime checks its framing and it keeps its length on the way out) unless the
 * inspector copies it, into a stream of that same length.
 */
function watchBody(request: Request, copyBody?: BodyCopier): { stream: ReadableStream; failed(): string | null } | null {
  if (!request.body) return null;
  const length = declaredLength(request.headers);
  if (length !== null && !copyBody) return { stream: request.body, failed: () => null };
  // Inspected, a body of known length goes through a stream of that length: it keeps it on the way out.
  const pipe = length !== null ? new FixedLengthStream(length) : new IdentityTransformStream();
  let failure: string | null = null;
  // The rejection is recorded before the fetch reading the pipe settles, so a check after it sees it.
  const piped = copyBody ? copyBody.copyRequestBody(request.body, pipe.writable, length) : request.body.pipeTo(pipe.writable);
  piped.catch((err: unknown) => {
    failure = err instanceof Error ? err.message : String(err);
  });
  return { stream: pipe.readable, failed: () => failure };
}

async function unavailable(sb: PreviewContext, port: number): Promise<SandboxError> {
  const listener: ListenerInfo = await sb.agent.listener(port).catch(() => ({ listening: false }));
  if (listener.owner === 'other') {
    return new SandboxError(
      ErrorCode.SERVICE_UNAVAILABLE,
      `Port ${port} is not served by sandbox '${sb.id}': it is held by another program on this machine, ${listener.holder ?? 'unknown'}. Local sandboxes are not isolated here and share this machine's ports: use another port`,
    );
  }
  if (listener.listening && listener.address && isLoopbackAddress(listener.address)) {
    return new SandboxError(
      ErrorCode.SERVICE_UNAVAILABLE,
      `The service on port ${port} in sandbox '${sb.id}' listens on ${listener.address} only, which the preview proxy cannot reach. Make it listen on 0.0.0.0:${port} (for example --host 0.0.0.0)`,
    );
  }
  return new SandboxError(ErrorCode.SERVICE_UNAVAILABLE, `Nothing is listening on port ${port} in sandbox '${sb.id}'. Start the service and make it listen on 0.0.0.0:${port}`);
}

function stripPreviewCookie(headers: Headers): void {
  const cookie = headers.get('cookie');
  if (!cookie) return;
  const rest = cookie
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && !p.startsWith(`${PREVIEW_COOKIE}=`));
  if (rest.length > 0) headers.set('cookie', rest.join('; '));
  else headers.delete('cookie');
}
