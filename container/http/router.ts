/**
 * A routing table for small JSON servers (the agent and the local container host): patterns with
 * `:params`, 404 for unknown paths, 405 for known paths with another method, and every handler
 * wrapped so that nothing it throws can crash the process. Every request passes the local door first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, SandboxError } from '../../worker/protocol/errors';
import { sendEmpty, sendError, sendJson } from './http-util';
import { checkDoor } from './local-door';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
}

/** A JSON answer; handlers that stream write to `res` themselves and return undefined. */
export interface Reply {
  status?: number;
  body?: unknown;
}

export type Handler = (ctx: RouteContext) => Promise<Reply | undefined> | Reply | undefined;

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  method: Method;
  /** e.g. `/processes/:id/logs` */
  path: string;
  handler: Handler;
}

interface CompiledRoute extends Route {
  segments: string[];
}

export function json(body: unknown, status = 200): Reply {
  return { status, body };
}

export const noContent: Reply = { status: 204 };

function match(segments: string[], parts: string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(part);
      } catch {
        return null;
      }
    } else if (seg !== part) return null;
  }
  return params;
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}

export interface RouterOptions {
  /** The per-run secret every request must carry (local-door.ts); undefined inside a container. */
  secret?: string;
  log?: (msg: string) => void;
}

export function createRouter(routes: Route[], { secret, log = console.error }: RouterOptions = {}) {
  const compiled: CompiledRoute[] = routes.map((r) => ({ ...r, segments: splitPath(r.path) }));
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      // Before routing, so a refused caller learns nothing, not even which paths exist.
      checkDoor(req.method, req.headers, secret);
      const url = new URL(req.url ?? '/', 'http://agent.invalid');
      const parts = splitPath(url.pathname);
      const allowed: string[] = [];
      for (const route of compiled) {
        const params = match(route.segments, parts);
        if (!params) continue;
        if (route.method !== req.method) {
          allowed.push(route.method);
          continue;
        }
        const reply = await route.handler({ req, res, params, query: url.searchParams });
        if (reply && !res.headersSent) {
          const status = reply.status ?? 200;
          if (reply.body === undefined) sendEmpty(res, status);
          else sendJson(res, status, reply.body);
        }
        return;
      }
      if (allowed.length > 0) {
        res.setHeader('allow', allowed.join(', '));
        throw new SandboxError(ErrorCode.METHOD_NOT_ALLOWED, `Method ${req.method} is not allowed on ${url.pathname} (allowed: ${allowed.join(', ')})`);
      }
      throw new SandboxError(ErrorCode.NOT_FOUND, `No route for ${req.method} ${url.pathname}`);
    } catch (err) {
      sendError(res, err, log);
    }
  };
}
