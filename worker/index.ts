/**
 * The companion Worker: preview traffic first (proxyToSandbox), then the control API. Also the entry point for people writing their own Worker code: it exports the Durable
 * Object classes and the SDK functions.
 */
import { handleApi } from './edge/api-router';
import { proxyToSandbox } from './edge/preview-proxy';
import type { Env } from './env';
import { errorResponse } from './edge/http';
import { ErrorCode, SandboxError } from './protocol/index';

export { Sandbox } from './sandbox/sandbox';
export { Registry } from './registry/registry';
export { getSandbox, SandboxHandle, Process } from './sdk';
export { proxyToSandbox } from './edge/preview-proxy';
export type { Env } from './env';

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const preview = await proxyToSandbox(request, env);
    if (preview) return preview;
    const api = await handleApi(request, env);
    if (api) return api;
    return errorResponse(new SandboxError(ErrorCode.NOT_FOUND, `Nothing here: the control API is under /api/v1`));
  },
} satisfies ExportedHandler<Env>;
