/**
 * The local host starts a sandbox's agent with a lowered oom_score_adj, so that when the sandbox
 * runs out of memory the kernel kills the process that used it, not the agent that reports it.
 * Children inherit the value: each process the agent starts is raised back to 0 at once (raising
 * needs no privilege). They also inherit the floor root set with it, so a process of the sandbox
 * may lower itself back to the agent's standing (no further): a choice that stays inside its own
 * sandbox. Elsewhere (a container, a plain host) the agent's value is 0 and this does nothing.
 */
import fs from 'node:fs';

let shielded: boolean | null = null;

function agentIsShielded(): boolean {
  if (shielded === null) {
    try {
      shielded = Number(fs.readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) < 0;
    } catch {
      shielded = false;
    }
  }
  return shielded;
}

/** Gives a process the agent started the kernel's ordinary standing when memory runs out. */
export function unshield(pid: number | undefined): void {
  if (pid === undefined || !agentIsShielded()) return;
  try {
    fs.writeFileSync(`/proc/${pid}/oom_score_adj`, '0');
  } catch {
    /* it exited already */
  }
}
