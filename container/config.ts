/** The agent's settings, read once from its environment (AGENT_ENV). Pure. */
import { AGENT_ENV, WORKSPACE_ROOT } from '../worker/protocol/agent';
import { CONTROL_PORT } from '../worker/protocol/ports';

export interface AgentConfig {
  port: number;
  bind: string;
  workspace: string;
  sandboxId: string | null;
  logLimit: number;
  pgidFile: string | undefined;
  portScanMs: number;
  /** The cloudflared binary for tunnels (a path, or a name looked up on PATH). */
  cloudflared: string;
  /** How long a tunnel may take to get its URL and become ready. */
  tunnelTimeoutMs: number;
  /** The secret every request must carry (set by the local container host); none in a container. */
  secret: string | undefined;
  /** The sandbox's own environment, given to every command it runs. */
  commandEnv: Record<string, string>;
  /** Every path the agent sees is the sandbox's own (namespaces): no path needs confining. */
  ownView: boolean;
  /** The cgroup the agent is in is the sandbox's (AGENT_ENV.OWN_CGROUP), so its figures are the sandbox's. */
  ownCgroup: boolean;
}

export const DEFAULT_LOG_LIMIT = 2 * 1024 * 1024;
export const DEFAULT_PORT_SCAN_MS = 1000;
export const DEFAULT_CLOUDFLARED = 'cloudflared';
export const DEFAULT_TUNNEL_TIMEOUT_MS = 30_000;

function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max} (got '${raw}')`);
  return n;
}

export function readAgentConfig(env: NodeJS.ProcessEnv): AgentConfig {
  return {
    port: intSetting(env, AGENT_ENV.PORT, CONTROL_PORT, 0, 65535),
    bind: env[AGENT_ENV.BIND] || '0.0.0.0',
    workspace: env[AGENT_ENV.WORKSPACE] || WORKSPACE_ROOT,
    sandboxId: env[AGENT_ENV.SANDBOX_ID] || null,
    logLimit: intSetting(env, AGENT_ENV.LOG_LIMIT, DEFAULT_LOG_LIMIT, 1024, 1024 * 1024 * 1024),
    pgidFile: env[AGENT_ENV.PGID_FILE] || undefined,
    portScanMs: intSetting(env, AGENT_ENV.PORT_SCAN_MS, DEFAULT_PORT_SCAN_MS, 50, 60_000),
    cloudflared: env[AGENT_ENV.CLOUDFLARED] || DEFAULT_CLOUDFLARED,
    tunnelTimeoutMs: intSetting(env, AGENT_ENV.TUNNEL_TIMEOUT_MS, DEFAULT_TUNNEL_TIMEOUT_MS, 100, 10 * 60_000),
    secret: env[AGENT_ENV.SECRET] || undefined,
    commandEnv: readCommandEnv(env[AGENT_ENV.COMMAND_ENV]),
    ownView: env[AGENT_ENV.OWN_VIEW] === '1',
    ownCgroup: env[AGENT_ENV.OWN_CGROUP] !== '0',
  };
}

function readCommandEnv(raw: string | undefined): Record<string, string> {
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${AGENT_ENV.COMMAND_ENV} must be a JSON object of strings`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new Error(`${AGENT_ENV.COMMAND_ENV} must be a JSON object of strings`);
  }
  return parsed as Record<string, string>;
}

/**
 * The environment commands start from: the agent's own without its settings (the secret among
 * them), plus the sandbox's own environment.
 */
export function commandEnv(env: NodeJS.ProcessEnv, sandboxEnv: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of Object.values(AGENT_ENV)) delete out[name];
  return { ...out, ...sandboxEnv };
}
