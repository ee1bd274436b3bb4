/**
 * Bindings and variables the Worker reads. What wrangler.jsonc declares (the Durable Object
 * namespaces, PREVIEW_HOSTNAME, SANDBOX_SLEEP_AFTER) comes from `wrangler types`
 * (worker/worker-configuration.d.ts, checked by `npm run lint`); secrets and what only the local
 * stack sets are declared here.
 */
export interface Env extends WranglerEnv {
  /** Bearer token of the control API (a secret in production). */
  SANDBOX_API_TOKEN?: string;
  /** Base URL of the local container host; set only by `npm start` and the tests. */
  LOCAL_CONTAINER_HOST?: string;
  /** The per-run secret the local container host requires on every request (a secret binding). */
  LOCAL_HOST_SECRET?: string;
  /** A second loopback address (127.0.0.2 on Linux) used to tell 0.0.0.0 from 127.0.0.1 binds locally. */
  LOCAL_BIND_CHECK?: string;
  /** Lifetime of private-preview ticket links in ms (default one minute). */
  PREVIEW_TICKET_TTL_MS?: string;
  /** `off`: the traffic inspector records no preview request of any sandbox. */
  SANDBOX_INSPECT?: string;
}
