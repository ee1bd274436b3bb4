/**
 * Ending what a plain agent started, from the files the host keeps per agent (its pid, and the
 * process groups it started): when it exits, and at the next start after a host that died without
 * cleaning up. Isolated agents need little of this: their pid namespace takes their processes along.
 */
import fs from 'node:fs';
import path from 'node:path';
import { signalGroup } from '../processes/process-groups';
import { readTextOr } from '../read-text';

/** The agent's files: its pid, and the ids of the process groups it started (one per line). */
export interface AgentFiles {
  pid: string;
  pgids: string;
}

export function readPgids(file: string): number[] {
  return readTextOr(file)
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 1);
}

/**
 * Kills every group listed in the agent's pgid file (and the agent's own), then forgets them.
 * An isolated agent's groups died with its pid namespace (and their ids are the namespace's).
 */
export function reapAgentGroups(files: AgentFiles, agentPid: number, isolated: boolean): void {
  if (!isolated) for (const pgid of readPgids(files.pgids)) signalGroup(pgid, 'SIGKILL');
  signalGroup(agentPid, 'SIGKILL');
  forget(files);
}

/**
 * An earlier host may have died without cleaning up: end its agent and the groups it left. Ids read
 * from old files may have been reused since, so only a process that is still an agent (its command
 * line names `agentName`), or a group leader working inside `workspace`, is killed.
 */
export function reapLeftoverAgent(files: AgentFiles, agentName: string, workspace: string): void {
  const stalePid = Number(readTextOr(files.pid).trim());
  if (Number.isInteger(stalePid) && stalePid > 1 && readTextOr(`/proc/${stalePid}/cmdline`).includes(agentName)) signalGroup(stalePid, 'SIGKILL');
  for (const pgid of readPgids(files.pgids)) {
    if (leaderWorksIn(pgid, workspace)) signalGroup(pgid, 'SIGKILL');
  }
  forget(files);
}

function forget(files: AgentFiles): void {
  fs.rmSync(files.pgids, { force: true });
  fs.rmSync(files.pid, { force: true });
}

function leaderWorksIn(pgid: number, folder: string): boolean {
  try {
    const cwd = fs.readlinkSync(`/proc/${pgid}/cwd`);
    return cwd === folder || cwd.startsWith(folder + path.sep);
  } catch {
    return false;
  }
}
