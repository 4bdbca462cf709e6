/** Counts work in flight (inference calls, embedding waits); idle() resolves once none is left. */
export class InFlight {
  #count = 0;
  #waiters: (() => void)[] = [];

  /** Work in flight now. */
  get count(): number {
    return this.#count;
  }

  /** One more piece of work started. */
  add(): void {
    this.#count++;
  }

  /** One piece of work finished; at zero, idle() waiters resolve. */
  done(): void {
    if (this.#count === 0) throw new TypeError('Expected work in flight for InFlight.done() but none was');
    this.#count--;
    if (this.#count === 0) for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs` (default: no limit). */
  idle(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(waiter);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
    });
  }
}
