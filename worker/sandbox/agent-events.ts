/**
 * Reads the agent's event stream (GET /events) while the container runs and turns each agent
 * event into control-API events. Resumes from the last id after a dropped connection; when the
 * stream ends because the agent died, tells the Durable Object so it reports the stop at once.
 */
import { AGENT_EVENT_NAME, SseParser, type AgentEvent, type ControlEventBody } from '../protocol/index';
import type { Sandbox } from './sandbox';

export class AgentEventPump {
  private stopped = false;
  private lastId: string | undefined;
  private abort = new AbortController();

  constructor(private readonly sandbox: Sandbox) {}

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
    sb.tunnels.clear();
    for (const t of tunnels) sb.tunnels.set(t.port, t);
    sb.running.clear();
    for (const p of processes) if (p.status === 'running') sb.running.set(p.id, p);
    sb.detected.clear();
    for (const p of ports) sb.detected.set(p.port, p);
  }

  private async apply(event: AgentEvent): Promise<void> {
    const sb = this.sandbox;
    const sandboxId = sb.id;
    let out: ControlEventBody;
    switch (event.type) {
      case 'process-started':
        sb.running.set(event.process.id, event.process);
        out = { type: 'process-started', sandboxId, process: event.process };
        break;
      case 'process-exited':
        sb.running.delete(event.process.id);
        out = { type: 'process-exited', sandboxId, process: event.process };
        break;
      case 'port-detected':
        sb.detected.set(event.port.port, event.port);
        out = { type: 'port-detected', sandboxId, port: event.port };
        break;
      case 'port-closed':
        sb.detected.delete(event.port);
        out = { type: 'port-closed', sandboxId, port: event.port };
        break;
      case 'tunnel-up':
        sb.tunnels.set(event.tunnel.port, event.tunnel);
        out = { type: 'tunnel-up', sandboxId, tunnel: event.tunnel };
        break;
      case 'tunnel-down':
        sb.tunnels.delete(event.port);
        out = { type: 'tunnel-down', sandboxId, port: event.port };
        break;
      default:
        return;
    }
    await sb.publish(out);
  }
}
