/** The sink seam: where each FrameResult goes after tracking, created from the config by `type`. */
import type { FrameResult, SinkConfig } from '@sightline/shared';
import { JsonlSink } from './jsonl-sink.ts';
import { MotSink } from './mot-sink.ts';

/** Receives every FrameResult of every stream on this edge. */
export interface Sink {
  /** Take one result. Never blocks: sinks buffer and write in the background (and count what they drop). */
  write(result: FrameResult): void;
  /** Resolve once everything written so far has been handed on (to the OS, to listeners). */
  flush(): Promise<void>;
  /** Flush and release the output. Safe to call twice; write() afterwards throws ClosedError. */
  close(): Promise<void>;
}

type Factory<T extends SinkConfig['type']> = (config: Extract<SinkConfig, { type: T }>) => Promise<Sink>;

const registry: { [T in SinkConfig['type']]: Factory<T> } = {
  jsonl: (config) => JsonlSink.open(config.path),
  mot: (config) => MotSink.open(config.dir),
};

/** Open a sink from its config; rejects with a SinkError (SINK_FAILED) naming the path when it cannot be opened. */
export async function createSink(config: SinkConfig): Promise<Sink> {
  const factory = (registry as Record<string, Factory<SinkConfig['type']> | undefined>)[config?.type];
  if (!factory) {
    throw new TypeError(
      `Expected a sink type of ${Object.keys(registry).join(', ')} but received ${String(config?.type)} of type ${typeof config?.type}`,
    );
  }
  return factory(config);
}
