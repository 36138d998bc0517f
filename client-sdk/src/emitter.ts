/** A minimal typed event emitter: the SDK's events need nothing more. */

/**
 * Maps each event name to its listener signature. (`never[]` because every
 * listener signature is assignable to it: parameters are contravariant.)
 */
export type EventMap<Events> = { [E in keyof Events]: (...args: never[]) => void };

export class Emitter<Events extends EventMap<Events>> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => void set.delete(listener);
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        // A throwing listener must not break the SDK's own bookkeeping; report it
        // the way an uncaught error in an event handler would be.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
