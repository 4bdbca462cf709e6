/** The edge side of the edge -> hub uplink: outbox, batcher, WebSocket client, enrollment. */
export {
  newRunId,
  type ThumbnailInput,
  UplinkBatcher,
  type UplinkBatcherOptions,
} from './batcher.ts';
export {
  credentialPath,
  type EdgeCredential,
  EnrollError,
  type EnrollOptions,
  enrollEdge,
  loadCredential,
  saveCredential,
} from './enroll.ts';
export {
  type FsyncPolicy,
  Journal,
  type JournalOptions,
  type JournalStats,
  type WindowDelta,
  type WindowJournal,
} from './journal.ts';
export { Outbox, type OutboxEntry, type OutboxKey, type OutboxOptions } from './outbox.ts';
export {
  type CommandOutcome,
  UplinkClient,
  type UplinkClientEvents,
  type UplinkClientOptions,
  type UplinkStats,
  uplinkUrl,
} from './uplink-client.ts';
