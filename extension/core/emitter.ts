/** A minimal event emitter for core modules (vscode.EventEmitter is not available here). */
export type Listener<T> = (value: T) => void;

export class Emitter<T> {
  private readonly listeners = new Set<Listener<T>>();

  /** Subscribes; the answer unsubscribes (shaped like a Disposable). */
  on(listener: Listener<T>): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch {
        /* one listener's failure must not stop the others */
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
