/**
 * Internal headers between the Worker and a Sandbox Durable Object. A preview request needs none:
 * the object reads port and token off the host itself, so the Worker passes the request on as it
 * came. wsConnect carries its port in ROUTE_HEADER. Clients can send headers of this family too,
 * so the Worker strips every one of them before a request reaches an object.
 */
export const INTERNAL_HEADER_PREFIX = 'x-sandbox-ports-';
export const ROUTE_HEADER = 'x-sandbox-ports-route';
/** Set by the Durable Object on a 404 so the Worker forgets a cached host → sandbox split. */
export const MISS_HEADER = 'x-sandbox-ports-miss';

export type InternalRoute = { kind: 'ws'; port: number };

export function hasInternalHeaders(headers: Headers): boolean {
  for (const name of headers.keys()) if (name.startsWith(INTERNAL_HEADER_PREFIX)) return true;
  return false;
}

/** The request without any internal header a client sent; the same object when it has none. */
export function withoutInternalHeaders(request: Request): Request {
  return hasInternalHeaders(request.headers) ? new Request(request, { headers: stripInternalHeaders(request.headers) }) : request;
}

export function stripInternalHeaders(headers: Headers): Headers {
  const out = new Headers(headers);
  for (const name of [...out.keys()]) if (name.startsWith(INTERNAL_HEADER_PREFIX)) out.delete(name);
  return out;
}

export function withRoute(request: Request, route: InternalRoute): Request {
  const headers = stripInternalHeaders(request.headers);
  headers.set(ROUTE_HEADER, JSON.stringify(route));
  return new Request(request, { headers });
}

export function readRoute(request: Request): InternalRoute | null {
  const raw = request.headers.get(ROUTE_HEADER);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as InternalRoute;
  } catch {
    return null;
  }
}
