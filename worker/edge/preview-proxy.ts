/**
 * proxyToSandbox(request, env): the Worker half of the preview proxy. Answers null for hosts that
 * are not preview-shaped, so a Worker reads `return (await proxyToSandbox(req, env)) ?? router(req)`.
 * A host label `{port}-{id}-{token}` may split several ways (ids and tokens both contain '-'): the
 * Durable Objects confirm which split is real, and the answer is cached per label.
 */
import { ErrorCode, SandboxError, checkSandboxId, parsePreviewHost, type PreviewRoute } from '../protocol/index';
import type { Env } from '../env';
import { previewErrorResponse } from './preview-errors';
import { MISS_HEADER, withoutInternalHeaders } from './preview-route';
import { registryStub } from '../registry/registry-client';

const MAX_CACHED = 10_000;
/** host label → the split a Durable Object confirmed, so a known host skips parsing altogether. */
const splitCache = new Map<string, PreviewRoute>();

function notFound(request: Request): Response {
  // The same answer for an unknown sandbox, an unexposed port and a wrong token: nothing to probe.
  return previewErrorResponse(request, new SandboxError(ErrorCode.INVALID_TOKEN, 'No preview at this address: the sandbox, port or token is unknown'));
}

function validRoutes(host: string): PreviewRoute[] {
  return parsePreviewHost(host).filter((r) => {
    try {
      checkSandboxId(r.sandboxId);
      return true;
    } catch {
      return false;
    }
  });
}

export async function proxyToSandbox(request: Request, env: Env): Promise<Response | null> {
  const url = new URL(request.url);
  const dot = url.host.indexOf('.');
  if (dot <= 0) return null;
  const label = url.host.slice(0, dot).toLowerCase();

  let route = splitCache.get(label);
  const cached = route !== undefined;
  if (!route) {
    const routes = validRoutes(url.host);
    if (routes.length === 0) return null;
    // Only sandboxes that exist are asked: a made-up host wakes no Durable Object and writes nothing.
    const known = new Set(await registryStub(env).known([...new Set(routes.map((r) => r.sandboxId))]));
    const candidates = routes.filter((r) => known.has(r.sandboxId));
    if (candidates.length === 1) route = candidates[0];
    else {
      for (const candidate of candidates) {
        const stub = env.Sandbox.get(env.Sandbox.idFromName(candidate.sandboxId));
        if (await stub.previewMatches(candidate.port, candidate.token)) {
          route = candidate;
          break;
        }
      }
    }
    if (!route) return notFound(request);
  }

  const stub = env.Sandbox.get(env.Sandbox.idFromName(route.sandboxId));
  // The object reads port and token off the host; the request goes on as it came.
  const forwarded = withoutInternalHeaders(request);
  const res = await stub.fetch(forwarded);
  if (res.headers.has(MISS_HEADER)) {
    splitCache.delete(label);
    return notFound(request);
  }
  if (!cached) {
    if (splitCache.size >= MAX_CACHED) splitCache.clear();
    splitCache.set(label, route);
  }
  return res;
}
