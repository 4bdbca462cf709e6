/** The sinks by config `type`: JSON lines and MOTChallenge files. */
import type { SinkConfig } from '@sightline/shared';
import { JsonlSink } from './jsonl-sink.ts';
import { MotSink } from './mot-sink.ts';
import type { Sink } from './sink.ts';

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
