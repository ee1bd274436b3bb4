/**
 * A bounded history of events with increasing ids, so a client that reconnects with the last id
 * it saw gets exactly the events it missed. Pure: no I/O.
 */

export interface LoggedEvent<T> {
  id: number;
  event: T;
}

export interface EventsSince<T> {
  events: LoggedEvent<T>[];
  /**
   * True when the client's point is no longer (or never was) in this history: it missed events
   * and should refetch state. Ids from an earlier agent run are larger than ours, which counts.
   */
  reset: boolean;
}

export class EventLog<T> {
  private readonly capacity: number;
  private readonly items: LoggedEvent<T>[] = [];
  private nextId = 1;
  private readonly listeners = new Set<(item: LoggedEvent<T>) => void>();

  constructor(capacity = 1000) {
    this.capacity = capacity;
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  append(event: T): LoggedEvent<T> {
    const item = { id: this.nextId++, event };
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
    for (const listener of this.listeners) listener(item);
    return item;
  }

  /** Events after `afterId`; undefined means "from the oldest kept event". */
  since(afterId: number | undefined): EventsSince<T> {
    if (afterId === undefined) return { events: this.items.slice(), reset: false };
    if (afterId > this.lastId || afterId < 0) return { events: this.items.slice(), reset: true };
    const oldest = this.items.length > 0 ? this.items[0]!.id : this.nextId;
    const reset = afterId < oldest - 1;
    return { events: this.items.filter((item) => item.id > afterId), reset };
  }

  subscribe(listener: (item: LoggedEvent<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
