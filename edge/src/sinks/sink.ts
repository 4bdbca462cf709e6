/** The sink seam: where each FrameResult goes after tracking (create-sink.ts opens one from the config by `type`). */
import type { FrameResult } from '@sightline/shared';

/** Receives every FrameResult of every stream on this edge. */
export interface Sink {
  /** Take one result. Never blocks: sinks buffer and write in the background (and count what they drop). */
  write(result: FrameResult): void;
  /** Resolve once everything written so far has been handed on (to the OS, to listeners). */
  flush(): Promise<void>;
  /** Flush and release the output. Safe to call twice; write() afterwards throws ClosedError. */
  close(): Promise<void>;
}
