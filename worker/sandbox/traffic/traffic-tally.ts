/**
 * The tree's figure for each exposed port (how many requests came, the last one's status) as
 * control events: the first change goes out at once, later ones at most once per interval per
 * port, and the newest figure always goes out in the end. A busy preview costs the registry one
 * event a second, not one per request; the figure is also in every snapshot of the sandbox.
 */
import type { ExposedPort, PortTraffic } from '../../protocol/index';
import type { TrafficLog } from './traffic-log';

export const TALLY_EVERY_MS = 1000;

export class TallyNotices {
  private readonly waiting = new Map<number, { again: boolean }>();

  constructor(
    private readonly read: (port: number) => PortTraffic | undefined,
    private readonly send: (port: number, traffic: PortTraffic) => Promise<void>,
    private readonly everyMs = TALLY_EVERY_MS,
  ) {}

  changed(port: number): void {
    const w = this.waiting.get(port);
    if (w) {
      w.again = true;
      return;
    }
    const traffic = this.read(port);
    if (traffic) void this.send(port, traffic).catch(() => {});
    setTimeout(() => {
      const again = this.waiting.get(port)?.again;
      this.waiting.delete(port);
      if (again) this.changed(port);
    }, this.everyMs);
    this.waiting.set(port, { again: false });
  }
}

/** An exposed port with its figure, as snapshots and `port-exposed` events carry it (none when not recorded). */
export function withTraffic(p: ExposedPort, log: TrafficLog | null): ExposedPort {
  const traffic = p.inspect === false ? undefined : log?.tally(p.port);
  return traffic ? { ...p, traffic } : p;
}
