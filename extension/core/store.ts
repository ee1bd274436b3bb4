/**
 * The live picture of every sandbox: a full fetch, then the event stream's changes applied with
 * the reducer. Events that arrive while a full fetch is under way are kept and applied on top of
 * it, so a fetch that started before them cannot erase them.
 */
import { ErrorCode, SandboxError, type ControlEvent, type SandboxState } from '../../worker/protocol/index';
import { Emitter } from './emitter';
import { EMPTY_WORLD, reduce, withSandbox, worldFrom, type WorldState } from './state-reducer';

export interface StoreSource {
  listSandboxes(): Promise<{ id: string }[]>;
  getSandbox(id: string): Promise<SandboxState>;
}

export interface StoreChange {
  world: WorldState;
  /** The event that caused it; absent for a full fetch. */
  event?: ControlEvent;
}

export class SandboxStore {
  private current: WorldState = EMPTY_WORLD;
  private fetching = 0;
  private pending: ControlEvent[] = [];
  private readonly changed = new Emitter<StoreChange>();
  /** Every event as applied, for listeners that react to one kind (notifications, logs). */
  readonly onDidChange = this.changed.on.bind(this.changed);

  get world(): WorldState {
    return this.current;
  }

  /** Fetches every sandbox's full state and replaces the picture with it. */
  async refetch(source: StoreSource): Promise<WorldState> {
    this.fetching++;
    try {
      const list = await source.listSandboxes();
      const states = await Promise.all(
        list.map((s) =>
          source.getSandbox(s.id).catch((err: unknown) => {
            // Destroyed between the list and the fetch: leave it out.
            if (err instanceof SandboxError && err.code === ErrorCode.SANDBOX_NOT_FOUND) return null;
            throw err;
          }),
        ),
      );
      let world = worldFrom(states.filter((s): s is SandboxState => s !== null));
      for (const event of this.pending) world = reduce(world, event);
      this.set(world);
      return world;
    } finally {
      if (--this.fetching === 0) this.pending = [];
    }
  }

  /** Fetches one sandbox again (after a command changed it, when no event stream is open). */
  async refetchOne(source: StoreSource, id: string): Promise<void> {
    const state = await source.getSandbox(id).catch((err: unknown) => {
      if (err instanceof SandboxError && err.code === ErrorCode.SANDBOX_NOT_FOUND) return null;
      throw err;
    });
    this.set(withSandbox(this.current, id, state));
  }

  apply(event: ControlEvent): void {
    if (this.fetching > 0) this.pending.push(event);
    const next = reduce(this.current, event);
    this.current = next;
    this.changed.fire({ world: next, event });
  }

  clear(): void {
    this.pending = [];
    this.set(EMPTY_WORLD);
  }

  private set(world: WorldState): void {
    this.current = world;
    this.changed.fire({ world });
  }
}
