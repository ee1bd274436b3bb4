/**
 * What a Worker's health says about how its sandboxes are kept apart and limited, as the words
 * a warning needs (each completes "Sandboxes on <Worker> …"). Pure.
 */
import type { HealthResponse } from '../../worker/protocol/index';

export function containmentWarnings(health: Partial<HealthResponse>): string[] {
  const out: string[] = [];
  const why = (reason: string | undefined) => (reason ? ` (${reason})` : '');
  if (health.isolation === 'none') {
    out.push(`are not isolated${why(health.isolationReason)}: their commands run as plain processes with your rights and share this machine's network.`);
  }
  if (health.limits === 'none') {
    out.push(`run without limits on memory, processes or CPU${why(health.limitsReason)}: one runaway command can take this whole machine.`);
  }
  return out;
}
