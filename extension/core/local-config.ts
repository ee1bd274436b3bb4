/** `.sandbox-ports/local.json`, written by `npm start`: the local Worker's URL and token. */
export const LOCAL_CONFIG_PATH = ['.sandbox-ports', 'local.json'] as const;

export interface LocalConfig {
  url: string;
  token: string;
}

export function parseLocalConfig(text: string): LocalConfig | null {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (typeof value.url === 'string' && typeof value.token === 'string' && value.url && value.token) return { url: value.url, token: value.token };
  } catch {
    /* not written completely yet */
  }
  return null;
}

/** True when a folder's package.json is this project's (its name), so "start local server" may run there. */
export function isSandboxPortsProject(packageJsonText: string): boolean {
  try {
    return (JSON.parse(packageJsonText) as { name?: unknown }).name === 'sandbox-ports';
  } catch {
    return false;
  }
}
