/** A typed EventEmitter: `type XEvents = { name: [args] }` gives checked emit/on/once. */
import { EventEmitter, once } from 'node:events';

export type EventMap = { [name: string]: unknown[] };

export class TypedEmitter<E extends EventMap> extends EventEmitter {
  override emit<K extends keyof E & string>(name: K, ...args: E[K]): boolean {
    return super.emit(name, ...args);
  }
  override on<K extends keyof E & string>(name: K, listener: (...args: E[K]) => void): this {
    return super.on(name, listener as (...args: unknown[]) => void);
  }
  override once<K extends keyof E & string>(name: K, listener: (...args: E[K]) => void): this {
    return super.once(name, listener as (...args: unknown[]) => void);
  }
  override off<K extends keyof E & string>(name: K, listener: (...args: E[K]) => void): this {
    return super.off(name, listener as (...args: unknown[]) => void);
  }
}

/** Resolve with the arguments of the next `name` event (rejects on `signal` abort). */
export async function nextEvent<E extends EventMap, K extends keyof E & string>(
  emitter: TypedEmitter<E>,
  name: K,
  options?: { signal?: AbortSignal },
): Promise<E[K]> {
  return (await once(emitter, name, options)) as E[K];
}
