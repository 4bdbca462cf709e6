/** @sightline/edge: the edge runtime and its stages. */

export { createDetectionAdapter } from './adapters/adapter.ts';
export * from './eval/index.ts';
export type { DecodedFrame, EncodedPacket, ImageBuffer } from './frame.ts';
export * from './inference/index.ts';
export { loadImageBgr } from './media/image.ts';
export * from './models/index.ts';
export { EdgeRuntime, type EdgeRuntimeEvents } from './pipeline/edge-runtime.ts';
export { HubReporter, type HubReporterOptions } from './pipeline/hub-reporter.ts';
export * from './preprocess/index.ts';
export { CropBatcher, type CropBatcherOptions } from './reid/crop-batcher.ts';
export { EmbeddingRunner } from './reid/embedding-runner.ts';
export { ReidStage, type ReidStageOptions, type ReidStats } from './reid/reid-stage.ts';
export * from './sinks/index.ts';
export * from './sources/index.ts';
export * from './tracking/index.ts';
export { VERSION } from './version.ts';
