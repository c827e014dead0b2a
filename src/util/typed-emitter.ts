import { EventEmitter } from 'node:events';

/**
 * An EventEmitter where every event name has one payload type, checked at compile time.
 * A listener that throws is caught and reported as 'listenerError' so one broken consumer
 * cannot stop the pipeline.
 */
export class TypedEmitter<Events extends Record<string, unknown>> {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  on<K extends keyof Events & string>(event: K, listener: (payload: Events[K]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  emit<K extends keyof Events & string>(event: K, payload: Events[K]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        (listener as (p: Events[K]) => void)(payload);
      } catch (err) {
        if (event !== 'listenerError') this.emitter.emit('listenerError', { event, error: err });
      }
    }
  }
}
