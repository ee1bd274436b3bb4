/**
 * The internal header that carries a routing decision from the Worker to a Sandbox Durable
 * Object. Clients can send headers of this family too, so the Worker strips every one of them
 * before it adds its own.
 */
export const INTERNAL_HEADER_PREFIX = 'x-sandbox-ports-';
export const ROUTE_HEADER = 'x-sandbox-ports-route';
/** Set by the Durable Object on a 404 so the Worker forgets a cached host → sandbox split. */
export const MISS_HEADER = 'x-sandbox-ports-miss';

export type InternalRoute =
  | { kind: 'preview'; port: number; token: string; host: string; proto: string; clientIp: string | null }
  | { kind: 'ws'; port: number };

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
