/** @sightline/edge: the edge runtime and its stages. */

export { createDetectionAdapter } from './adapters/adapter.ts';
export {
  CLASSIFICATION_ADAPTERS,
  ClassifierAdapter,
  type ClassifyOptions,
  createClassificationAdapter,
} from './adapters/classifier.ts';
export {
  classAtSource,
  classMapToSource,
  createSegmentationAdapter,
  imageRegion,
  type MapRegion,
  SEGMENTATION_ADAPTERS,
  SegmentationAdapter,
  type SegmentationResult,
} from './adapters/segmentation.ts';
export { EdgeAgent, redactConfig } from './agent/edge-agent.ts';
export { OffloadLink } from './agent/offload-link.ts';
export {
  type ConfigReferenceOptions,
  type ConfigReferences,
  checkConfigReferences,
  closestNames,
  configReferenceIssues,
  didYouMean,
  editDistance,
  loadConfigReferences,
} from './config-check.ts';
export * from './enhance/index.ts';
export * from './eval/index.ts';
export type { DecodedFrame, EncodedPacket, ImageBuffer } from './frame.ts';
export * from './h264/index.ts';
export * from './inference/index.ts';
export { loadImageBgr } from './media/image.ts';
export {
  createEdgeMetrics,
  type EdgeMetrics,
  type EdgeMetricsOptions,
  type EdgeMetricsSource,
} from './metrics/edge-metrics.ts';
export {
  type MetricsServer,
  type MetricsServerOptions,
  startMetricsServer,
} from './metrics/metrics-server.ts';
export * from './models/index.ts';
export {
  type CropBatch,
  type CropBoxes,
  type KernelSelection,
  type Kernels,
  kernels,
  kernelsDescription,
  MAX_CROP_SIDE,
  type MotionOptions,
  type MotionResult,
  motionMask,
  NATIVE_ABI_VERSION,
  type NativeBinding,
  nativeKernels,
  selectKernels,
  tsKernels,
  wrapBinding,
} from './native/index.ts';
export * from './net/index.ts';
export { type ConfigChange, type ConfigPatch, planConfigChange } from './pipeline/config-change.ts';
export { EdgeRuntime, type EdgeRuntimeOptions } from './pipeline/edge-runtime.ts';
export type { DroppedFrame, EdgeRuntimeEvents, FrameDropReason } from './pipeline/runtime-events.ts';
export * from './preprocess/index.ts';
export { CropBatcher, type CropBatcherOptions } from './reid/crop-batcher.ts';
export { ReidStage, type ReidStageOptions, type ReidStats } from './reid/reid-stage.ts';
export * from './sinks/index.ts';
export * from './sources/index.ts';
export {
  ThumbnailStage,
  type ThumbnailStageOptions,
  type ThumbnailStats,
  type TrackThumbnail,
  thumbnailQuality,
} from './thumbnails/thumbnail-stage.ts';
export * from './tracking/index.ts';
export * from './uplink/index.ts';
export { VERSION } from './version.ts';
export * from './webrtc/index.ts';
