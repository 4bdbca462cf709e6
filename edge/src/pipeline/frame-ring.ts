/** A bounded per-stream frame queue that drops the oldest frame when full and counts every drop. */
import type { DecodedFrame } from '../frame.ts';

export class FrameRing {
  readonly capacity: number;
  #items: (DecodedFrame | undefined)[];
  #head = 0;
  #size = 0;
  #dropped = 0;

  /** @param capacity frames held before the oldest is dropped (the original design used 30). */
  constructor(capacity = 30) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Expected a positive integer for capacity but received ${capacity} of type ${typeof capacity}`,
      );
    }
    this.capacity = capacity;
    this.#items = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Frames dropped because the ring was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Add a frame; returns the frame dropped to make room, if any. */
  push(frame: DecodedFrame): DecodedFrame | undefined {
    let evicted: DecodedFrame | undefined;
    if (this.#size === this.capacity) {
      evicted = this.shift();
      this.#dropped++;
    }
    this.#items[(this.#head + this.#size) % this.capacity] = frame;
    this.#size++;
    return evicted;
  }

  /** The oldest frame without removing it. */
  peek(): DecodedFrame | undefined {
    return this.#size ? this.#items[this.#head] : undefined;
  }

  /** Remove and return the oldest frame. */
  shift(): DecodedFrame | undefined {
    if (!this.#size) return undefined;
    const frame = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return frame;
  }

  /** Remove every frame and return them, oldest first. */
  drain(): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    for (let f = this.shift(); f; f = this.shift()) out.push(f);
    return out;
  }
}
