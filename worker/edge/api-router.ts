/**
 * The control API (SPEC 3): JSON over HTTP under /api/v1, bearer token on every route but
 * /health. Routes are one table; each handler parses its input, calls one sandbox operation and
 * shapes the answer. Errors become `{ error, code }` in one place (errorResponse).
 */
import { API_PREFIX, ErrorCode, MAX_FILE_BODY_BYTES, SandboxError, checkSandboxId, optionalBoolean, parseEncoding, parsePath, parseResourceRequest } from '../protocol/index';
import type { Env } from '../env';
import { requireBearer } from './auth';
import { errorResponse, json, readBodyBytes, readJsonObject } from './http';
import { registryStub } from '../registry/registry-client';
import { sandboxCaller } from '../sandbox/rpc';
import { hostReport } from '../sandbox/local-seam';
import { configuredInstanceType } from '../sandbox/sandbox-resources';

export const VERSION = '0.1.0';

interface RouteContext {
  request: Request;
  env: Env;
  url: URL;
  params: Record<string, string>;
}

type Handler = (c: RouteContext) => Promise<Response> | Response;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
  auth: boolean;
}

const ID = '(?<id>[^/]+)';
const PID = '(?<pid>[^/]+)';
/** A recorded request's id; not 'stream', the inspector's live stream. */
const RID = '(?<rid>(?!stream$)[^/]+)';
/** Not 'detected': that word names the detected-ports route. */
const PORT = '(?<port>(?!detected$)[^/]+)';

function route(method: string, path: string, handler: Handler, auth = true): Route {
  return { method, pattern: new RegExp(`^${API_PREFIX}${path}$`), handler, auth };
}

function sandbox(c: RouteContext) {
  const id = checkSandboxId(c.params.id);
  return sandboxCaller(c.env.Sandbox, id, false);
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };

const routes: Route[] = [
  route(
    'GET',
    '/health',
    async ({ env }) => {
      const { capacity: _capacity, ...report } = await hostReport(env);
      let instanceType: string;
      try {
        instanceType = configuredInstanceType(env.SANDBOX_INSTANCE_TYPE);
      } catch (err) {
        // Health still answers: it is where a misconfiguration is looked for.
        instanceType = `invalid: ${(err as Error).message}`;
      }
      return json({ ok: true, version: VERSION, ...report, instanceType });
    },
    false,
  ),

  route('GET', '/sandboxes', async ({ env }) => {
    // The registry remembers the last status it was told; each sandbox knows its live one (after a
    // Worker restart nothing runs, whatever was last recorded).
    const listed = await registryStub(env).list();
    const sandboxes = await Promise.all(listed.map(async (s) => ({ ...s, status: await sandboxCaller(env.Sandbox, s.id, false)('status').catch(() => s.status) })));
    return json({ sandboxes });
  }),

  route('POST', '/sandboxes', async (c) => {
    const body = await readJsonObject(c.request);
    const normalize = optionalBoolean(body, 'normalizeId') ?? false;
    const id = checkSandboxId(body.id, normalize);
    const enableInternet = optionalBoolean(body, 'enableInternet');
    const options = { ...parseResourceRequest(body), ...(enableInternet === undefined ? {} : { enableInternet }) };
    const { state, created } = await sandboxCaller(c.env.Sandbox, id, false)('create', id, options);
    return json(state, created ? 201 : 200);
  }),

  route('GET', `/sandboxes/${ID}`, async (c) => json(await sandbox(c)('state'))),

  route('DELETE', `/sandboxes/${ID}`, async (c) => {
    await sandbox(c)('destroy');
    return new Response(null, { status: 204 });
  }),

  route('POST', `/sandboxes/${ID}/exec`, async (c) => {
    const body = await readJsonObject(c.request);
    return json(await sandbox(c)('exec', body.command, body));
  }),

  route('GET', `/sandboxes/${ID}/processes`, async (c) => json({ processes: await sandbox(c)('listProcesses') })),

  route('POST', `/sandboxes/${ID}/processes`, async (c) => {
    const body = await readJsonObject(c.request);
    return json(await sandbox(c)('startProcess', body.command, body), 201);
  }),

  route('DELETE', `/sandboxes/${ID}/processes`, async (c) => json({ killed: await sandbox(c)('killAllProcesses') })),

  route('GET', `/sandboxes/${ID}/processes/${PID}`, async (c) => {
    const info = await sandbox(c)('getProcess', c.params.pid);
    if (!info) throw new SandboxError(ErrorCode.PROCESS_NOT_FOUND, `Process '${c.params.pid}' not found`);
    return json(info);
  }),

  route('DELETE', `/sandboxes/${ID}/processes/${PID}`, async (c) => {
    await sandbox(c)('killProcess', c.params.pid, c.url.searchParams.get('signal'), c.url.searchParams.get('graceMs'));
    return new Response(null, { status: 204 });
  }),

  route('GET', `/sandboxes/${ID}/processes/${PID}/logs`, async (c) => json(await sandbox(c)('getProcessLogs', c.params.pid))),

  route('GET', `/sandboxes/${ID}/processes/${PID}/logs/stream`, async (c) => {
    const last = c.request.headers.get('last-event-id') ?? c.url.searchParams.get('lastEventId') ?? undefined;
    const stream = await sandbox(c)('streamProcessLogs', c.params.pid, last);
    return new Response(stream, { headers: SSE_HEADERS });
  }),

  route('POST', `/sandboxes/${ID}/processes/${PID}/wait-for-port`, async (c) => {
    const body = await readJsonObject(c.request);
    return json(await sandbox(c)('waitForPort', c.params.pid, body.port, body));
  }),

  route('POST', `/sandboxes/${ID}/processes/${PID}/wait-for-log`, async (c) => {
    const body = await readJsonObject(c.request);
    return json(await sandbox(c)('waitForLog', c.params.pid, body.pattern, body));
  }),

  route('POST', `/sandboxes/${ID}/processes/${PID}/wait-for-exit`, async (c) => {
    const body = await readJsonObject(c.request, true);
    return json(await sandbox(c)('waitForExit', c.params.pid, body.timeout));
  }),

  route('PUT', `/sandboxes/${ID}/files`, async (c) => {
    // Checked before the body is read, so a bad path or encoding never waits for an upload.
    const path = parsePath(c.url.searchParams.get('path') ?? undefined);
    const encoding = parseEncoding(c.url.searchParams.get('encoding'));
    const bytes = await readBodyBytes(c.request, MAX_FILE_BODY_BYTES);
    return json(await sandbox(c)('writeFile', path, bytes, encoding), 201);
  }),

  route('GET', `/sandboxes/${ID}/files`, async (c) => {
    const stream = await sandbox(c)('readFileStream', c.url.searchParams.get('path') ?? undefined);
    return new Response(stream, { headers: { 'content-type': 'application/octet-stream' } });
  }),

  route('POST', `/sandboxes/${ID}/mkdir`, async (c) => {
    const body = await readJsonObject(c.request);
    return json(await sandbox(c)('mkdir', body.path, body), 201);
  }),

  route('POST', `/sandboxes/${ID}/checkout`, async (c) => {
    const body = await readJsonObject(c.request);
    return json(await sandbox(c)('checkout', body.repoUrl, body), 201);
  }),

  route('POST', `/sandboxes/${ID}/ports`, async (c) => {
    const body = await readJsonObject(c.request);
    const { port, ...options } = body;
    // A misspelt or forgotten field reads as missing, not as "Invalid port number: undefined".
    if (port === undefined) throw new SandboxError(ErrorCode.INVALID_PORT, "Field 'port' is missing: the port to expose, 1024-65535");
    return json(await sandbox(c)('exposePort', port, options), 201);
  }),

  route('GET', `/sandboxes/${ID}/ports`, async (c) => json(await sandbox(c)('getExposedPorts'))),

  route('DELETE', `/sandboxes/${ID}/ports/${PORT}`, async (c) => {
    await sandbox(c)('unexposePort', c.params.port);
    return new Response(null, { status: 204 });
  }),

  route('POST', `/sandboxes/${ID}/ports/${PORT}/ticket`, async (c) => json(await sandbox(c)('createTicket', c.params.port), 201)),

  route('GET', `/sandboxes/${ID}/ports/detected`, async (c) => json({ ports: await sandbox(c)('detectedPorts') })),

  // The traffic inspector: what came through a port's preview URL.
  route('GET', `/sandboxes/${ID}/ports/${PORT}/requests`, async (c) =>
    json(await sandbox(c)('listRequests', c.params.port, c.url.searchParams.get('limit') ?? undefined, c.url.searchParams.get('before') ?? undefined)),
  ),

  route('DELETE', `/sandboxes/${ID}/ports/${PORT}/requests`, async (c) => {
    await sandbox(c)('clearRequests', c.params.port);
    return new Response(null, { status: 204 });
  }),

  route('GET', `/sandboxes/${ID}/ports/${PORT}/requests/stream`, async (c) => {
    const last = c.request.headers.get('last-event-id') ?? c.url.searchParams.get('lastEventId') ?? undefined;
    return new Response(await sandbox(c)('streamRequests', c.params.port, last), { headers: SSE_HEADERS });
  }),

  route('GET', `/sandboxes/${ID}/ports/${PORT}/requests/${RID}`, async (c) => json(await sandbox(c)('getRequest', c.params.port, c.params.rid))),

  route('POST', `/sandboxes/${ID}/ports/${PORT}/requests/${RID}/replay`, async (c) => {
    const body = await readJsonObject(c.request, true);
    return json(await sandbox(c)('replayRequest', c.params.port, c.params.rid, body), 201);
  }),

  route('PUT', `/sandboxes/${ID}/tunnels/${PORT}`, async (c) => json(await sandbox(c)('getTunnel', c.params.port))),

  route('GET', `/sandboxes/${ID}/tunnels`, async (c) => json({ tunnels: await sandbox(c)('listTunnels') })),

  route('DELETE', `/sandboxes/${ID}/tunnels/${PORT}`, async (c) => {
    await sandbox(c)('destroyTunnel', c.params.port);
    return new Response(null, { status: 204 });
  }),

  route('GET', '/events', async ({ request, env }) => {
    const res = await registryStub(env).fetch(new Request('http://registry/events', { headers: request.headers }));
    return new Response(res.body, { headers: SSE_HEADERS });
  }),
];

/** Answers every /api/v1 request; null for other paths. */
export async function handleApi(request: Request, env: Env): Promise<Response | null> {
  const url = new URL(request.url);
  if (url.pathname !== API_PREFIX && !url.pathname.startsWith(`${API_PREFIX}/`)) return null;
  try {
    let pathMatched = false;
    for (const r of routes) {
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== request.method && !(r.method === 'GET' && request.method === 'HEAD')) continue;
      if (r.auth) requireBearer(request, env);
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = safeDecode(v);
      return await r.handler({ request, env, url, params });
    }
    if (pathMatched) {
      requireBearer(request, env);
      throw new SandboxError(ErrorCode.METHOD_NOT_ALLOWED, `${request.method} is not allowed on ${url.pathname}`);
    }
    throw new SandboxError(ErrorCode.NOT_FOUND, `No such API route: ${request.method} ${url.pathname}`);
  } catch (err) {
    return errorResponse(err);
  }
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    throw new SandboxError(ErrorCode.INVALID_REQUEST, `Malformed percent-encoding in the path: ${v}`);
  }
}
