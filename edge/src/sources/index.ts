/** Stream sources: files, RTSP and HTTP decoded to BGR24 frames by FFmpeg (node-av worker or ffmpeg subprocess). */
export { fitInside, type Size } from './fit.ts';
export { HWACCELS, type Hwaccel } from './hwaccel.ts';
export type { StreamInfo } from './protocol.ts';
export { askRtsp, explainRtspAnswer, type RtspAnswer } from './rtsp-probe.ts';
export { checkSourceScheme, resolveLocalSource, type SourcePolicy } from './source-policy.ts';
export {
  type ParsedSource,
  parseSourceUrl,
  redactUrl,
  type SourceKind,
  sourceScheme,
} from './source-url.ts';
export {
  type SourceState,
  StreamSource,
  type StreamSourceEvents,
  type StreamSourceOptions,
  type StreamSourceStats,
} from './stream-source.ts';
