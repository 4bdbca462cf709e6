/**
 * When a WHIP session asks its publisher for a keyframe (RTCP PLI). Pure: the session feeds it the clock, the stream's
 * decode count and the keyframe starts seen, and sends a PLI when it says so.
 */

/** Shortest time between two PLIs for viewers (ms). */
const VIEWER_PLI_MS = 500;
/** Shortest time between two PLIs while nothing has decoded yet, and once something has (ms). */
const FIRST_PLI_MS = 500;
const LATER_PLI_MS = 1000;
/** How long decoding may stall before a keyframe is asked for (ms). */
const STALL_MS = 1500;

/** Keyframe requests of one WHIP session. */
export class KeyframeWatch {
  #decoded = 0;
  #progressAt = 0;
  #pliAt = 0;
  #plis = 0;

  /** PLIs asked for so far. */
  get plis(): number {
    return this.#plis;
  }

  /** A viewer of the stream needs a keyframe: true when a PLI should go now (at most twice a second). */
  viewerWants(now: number): boolean {
    if (now - this.#pliAt < VIEWER_PLI_MS) return false;
    return this.#sent(now);
  }

  /**
   * Media flows: true when a PLI should go now because the stream has decoded nothing for a while. `framesDecoded` is
   * the runtime's count for the stream (undefined when it reports none: then PLIs go until a keyframe start passed).
   */
  check(now: number, framesDecoded: number | undefined, keyframes: number): boolean {
    if (framesDecoded !== undefined) {
      if (framesDecoded > this.#decoded) {
        this.#decoded = framesDecoded;
        this.#progressAt = now;
      }
      if (now - this.#progressAt < STALL_MS) return false;
    } else if (keyframes > 0) {
      return false;
    }
    if (now - this.#pliAt < (this.#decoded === 0 ? FIRST_PLI_MS : LATER_PLI_MS)) return false;
    return this.#sent(now);
  }

  #sent(now: number): true {
    this.#pliAt = now;
    this.#plis++;
    return true;
  }
}
