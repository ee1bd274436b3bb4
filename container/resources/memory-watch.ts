/**
 * Watches the sandbox's memory from inside: tells the Durable Object (an agent event) when use
 * crosses the near-limit mark either way, when it moved by a quarter of the limit since it last
 * told (so a client's figure is never far off, without an event per check), and when the kernel
 * kills a process for memory; and
 * says whether a process that just died by SIGKILL was such a kill. The kernel counts its kills
 * (oom_kill) but does not say whom; a kill not claimed by an exit within one check was of a
 * process this agent did not start (a command's child), and is not given to a later exit.
 */
import type { AgentEvent } from '../../worker/protocol/agent';
import { nearMemoryLimit, type ResourceUsage } from '../../worker/protocol/resources';
import type { EventLog } from '../event-log';
import type { ResourceReader } from './usage';

export const MEMORY_CHECK_MS = 2000;
/** A move of this share of the limit since the last report is reported. */
const REPORT_STEP = 0.25;

export class MemoryWatch {
  private claimed: number;
  private lastKills: number;
  private near = false;
  private reported = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly reader: ResourceReader,
    private readonly events: EventLog<AgentEvent>,
    private readonly intervalMs = MEMORY_CHECK_MS,
  ) {
    this.lastKills = this.claimed = reader.limited ? reader.oomKills() : 0;
  }

  /** Reports once at once (so the Durable Object learns the figures as the sandbox starts), then checks. */
  start(): void {
    if (!this.reader.limited || this.timer) return;
    this.report(this.reader.cached());
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** For an exit by SIGKILL: true (once per kill) when the kernel killed it for memory. */
  claimKill(): boolean {
    if (!this.reader.limited) return false;
    if (this.reader.oomKills() <= this.claimed) return false;
    this.claimed++;
    this.check();
    return true;
  }

  check(): void {
    const usage = this.reader.cached();
    const near = nearMemoryLimit(usage);
    const killed = usage.oomKills > this.lastKills;
    const { used, limit } = usage.memory;
    const moved = limit !== null && Math.abs(used - this.reported) >= limit * REPORT_STEP;
    // Kills the last check saw and no exit claimed since were not of the agent's processes.
    this.claimed = Math.max(this.claimed, this.lastKills);
    this.lastKills = usage.oomKills;
    if (near !== this.near || killed || moved) this.report(usage);
  }

  private report(usage: ResourceUsage): void {
    this.near = nearMemoryLimit(usage);
    this.reported = usage.memory.used;
    this.events.append({ type: 'resources', usage });
  }
}
