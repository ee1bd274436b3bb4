/**
 * Reads the agent's event stream (GET /events) while the container runs and turns each agent
 * event into control-API events. Resumes from the last id after a dropped connection; when the
 * stream ends because the agent died, tells the Durable Object so it reports the stop at once.
 */
import { AGENT_EVENT_NAME, RESET_EVENT_NAME, STOP, eventData, followSse, type AgentEvent } from '../protocol/index';
import { applyAgentEvent } from './live-state';
import { realTimers, sleep } from '../protocol/timers';
import type { PumpContext } from './context';

export class AgentEventPump {
  private readonly abort = new AbortController();

  constructor(private readonly sandbox: PumpContext) {}

  start(): void {
    void this.follow();
  }

  stop(): void {
    this.abort.abort();
  }

  private follow(): Promise<void> {
    let failures = 0;
    return followSse({
      signal: this.abort.signal,
      open: async (last) => {
        const res = await this.sandbox.agent.events(last);
        if (!res.body) throw new Error('the agent answered its event stream without a body');
        return res.body;
      },
      onOpen: () => {
        failures = 0;
      },
      onMessage: async (msg) => {
        if (msg.event === RESET_EVENT_NAME) {
          // Our resume point is gone (the agent restarted): take the current truth instead.
          await this.resync();
          return;
        }
        const event = eventData<AgentEvent>(msg, AGENT_EVENT_NAME);
        if (event) await this.apply(event);
      },
      // The stream ends when the agent dies: say so at once rather than wait for a monitor.
      onDrop: async (error) => {
        if (error !== undefined) failures++;
        if (this.sandbox.status() !== 'running' || failures > 3) {
          await this.sandbox.handleStopped('the sandbox agent exited');
          return STOP;
        }
        return 200 * failures;
      },
      sleep: (ms, signal) => sleep(realTimers, ms, signal),
    });
  }

  private async resync(): Promise<void> {
    const sb = this.sandbox;
    const [processes, ports, tunnels] = await Promise.all([sb.agent.listProcesses(), sb.agent.detectedPorts(), sb.agent.tunnels()]);
    sb.live.reset(processes, ports, tunnels);
  }

  private async apply(event: AgentEvent): Promise<void> {
    const out = applyAgentEvent(this.sandbox.live, this.sandbox.id, event);
    if (out) await this.sandbox.publish(out);
  }
}
