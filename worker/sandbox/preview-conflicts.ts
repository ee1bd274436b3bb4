/**
 * One preview hostname names one exposure, across all sandboxes. Ids and tokens may both contain
 * '-', so `19402-rel-m-x-tok` could be sandbox `rel-m` with token `x-tok` or sandbox `rel-m-x`
 * with token `tok`: before an exposure takes a label, every other reading of it is checked against
 * the sandboxes that exist (registry) and their exposures.
 */
import type { Env } from '../env';
import { checkSandboxId, parsePreviewHost, previewLabel } from '../protocol/index';
import { registryStub } from '../registry/registry-client';

export interface PreviewConflict {
  sandboxId: string;
  port: number;
}

/** Another sandbox's exposure that `{port}-{sandboxId}-{token}` would also name, or null. */
export async function findPreviewConflict(env: Env, sandboxId: string, port: number, token: string): Promise<PreviewConflict | null> {
  const others = parsePreviewHost(`${previewLabel(port, sandboxId, token)}.preview`).filter((r) => {
    if (r.sandboxId === sandboxId) return false;
    try {
      checkSandboxId(r.sandboxId);
      return true;
    } catch {
      return false;
    }
  });
  if (others.length === 0) return null;
  const known = new Set(await registryStub(env).known([...new Set(others.map((r) => r.sandboxId))]));
  for (const r of others) {
    if (!known.has(r.sandboxId)) continue;
    const stub = env.Sandbox.get(env.Sandbox.idFromName(r.sandboxId));
    if (await stub.previewMatches(r.port, r.token)) return { sandboxId: r.sandboxId, port: r.port };
  }
  return null;
}
