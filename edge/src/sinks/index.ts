/** Sinks: the Sink seam and its JSONL, MOTChallenge and in-process event backends. */
export * from './create-sink.ts';
export * from './emitter-sink.ts';
export * from './jsonl-sink.ts';
export * from './line-writer.ts';
export * from './mot-sink.ts';
export * from './sink.ts';
