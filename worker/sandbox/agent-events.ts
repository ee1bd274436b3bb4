/**
 * Reads the agent's event stream (GET /events) while the container runs and turns each agent
 * event into control-API events. Resumes from the last id after a dropped connection; when the
 * stream ends because the agent died, tells the Durable Object so it reports the stop at once.
 */
import { AGENT_EVENT_NAME, SseParser, type AgentEvent } from '../protocol/index';
import { applyAgentEvent } from './live-state';
import type { PumpContext } from './context';

export class AgentEventPump {
  private stopped = false;
  private lastId: string | undefined;
  private abort = new AbortController();

  constructor(private readonly sandbox: PumpContext) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const res = await this.sandbox.agent.events(this.lastId);
        failures = 0;
        await this.read(res);
      } catch {
        failures++;
      }
      if (this.stopped) return;
      if (!this.sandbox.containerRunning() || failures > 3) {
        await this.sandbox.handleStopped('the sandbox agent exited');
        return;
      }
      await new Promise((r) => setTimeout(r, 200 * failures));
    }
  }

  private async read(res: Response): Promise<void> {
    if (!res.body) return;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    this.abort.signal.addEventListener('abort', () => void reader.cancel().catch(() => {}));
    for (;;) {
      const { done, value } = await reader.read();
      if (done || this.stopped) return;
      for (const msg of parser.push(decoder.decode(value, { stream: true }))) {
        if (msg.id) this.lastId = msg.id;
        if (msg.event === 'reset') {
          // Our resume point is gone (the agent restarted): take the current truth instead.
          await this.resync();
          continue;
        }
        if (msg.event !== AGENT_EVENT_NAME) continue;
        let event: AgentEvent;
        try {
          event = JSON.parse(msg.data) as AgentEvent;
        } catch {
          continue;
        }
        await this.apply(event);
      }
    }
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
