/**
 * Which preview URLs the status bar offers: every exposed port, with "current" the one exposed or
 * opened last. Pure bookkeeping over the world state.
 */
import type { WorldState } from './state-reducer';

export interface PreviewEntry {
  sandboxId: string;
  port: number;
  url: string;
  name?: string;
}

export class PreviewTracker {
  /** url → when it was last exposed or opened (a counter, not a clock: order is all that matters). */
  private readonly touched = new Map<string, number>();
  private tick = 0;

  /** Marks a URL as the current one. */
  touch(url: string): void {
    this.touched.set(url, ++this.tick);
  }

  /** Every exposed port's preview, most recently touched first, then by sandbox and port. */
  entries(world: WorldState): PreviewEntry[] {
    const out: PreviewEntry[] = [];
    for (const s of Object.values(world)) {
      for (const p of s.ports) out.push({ sandboxId: s.id, port: p.port, url: p.url, ...(p.name ? { name: p.name } : {}) });
    }
    const rank = (e: PreviewEntry) => this.touched.get(e.url) ?? 0;
    return out.sort((a, b) => rank(b) - rank(a) || a.sandboxId.localeCompare(b.sandboxId) || a.port - b.port);
  }

  current(world: WorldState): PreviewEntry | undefined {
    return this.entries(world)[0];
  }
}
