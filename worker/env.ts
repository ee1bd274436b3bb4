import type { Registry } from './registry';
import type { Sandbox } from './sandbox';

/** Bindings and variables the Worker reads (wrangler.jsonc, secrets, `wrangler dev --var`). */
export interface Env {
  Sandbox: DurableObjectNamespace<Sandbox>;
  Registry: DurableObjectNamespace<Registry>;
  /** Bearer token of the control API (a secret in production). */
  SANDBOX_API_TOKEN?: string;
  /** Host that preview hostnames hang under, e.g. example.com or localhost:8787. */
  PREVIEW_HOSTNAME?: string;
  /** Base URL of the local container host; set only by `npm start` and the tests. */
  LOCAL_CONTAINER_HOST?: string;
  /** The per-run secret the local container host requires on every request (a secret binding). */
  LOCAL_HOST_SECRET?: string;
  /** A second loopback address (127.0.0.2 on Linux) used to tell 0.0.0.0 from 127.0.0.1 binds locally. */
  LOCAL_BIND_CHECK?: string;
  /** Lifetime of private-preview ticket links in ms (default one minute). */
  PREVIEW_TICKET_TTL_MS?: string;
  /** How long an idle sandbox keeps its container ('30m', '2h'). */
  SANDBOX_SLEEP_AFTER?: string;
}
