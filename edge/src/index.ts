/** @sightline/edge: the edge runtime and its stages. */
export { EdgeRuntime, type EdgeRuntimeEvents } from './pipeline/edge-runtime.ts';
export { HubReporter, type HubReporterOptions } from './pipeline/hub-reporter.ts';
export { VERSION } from './version.ts';
export * from './models/index.ts';
export * from './inference/index.ts';
export * from './preprocess/index.ts';
export { createDetectionAdapter } from './adapters/adapter.ts';
export { loadImageBgr } from './media/image.ts';
