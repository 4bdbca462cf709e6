/** What the SFU hands out: published streams as viewers see them, viewer sessions, and its events. */
import type { PublishedStream as StreamInfo } from '@sightline/shared';
import type { types as T } from 'mediasoup';

/** The wire shapes (shared/src/signalling.ts): the video an edge publishes with, a published stream as viewers see it. */
export type { PublishedStream as StreamInfo, PublishedVideo } from '@sightline/shared';

/** A viewer's leg of one stream (WebSocket viewer or WHEP player). */
export interface ViewerSession {
  id: string;
  key: string;
  via: 'ws' | 'whep';
  transport: T.WebRtcTransport;
  consumer: T.Consumer;
  dataConsumer?: T.DataConsumer;
  closed: boolean;
}

export interface MediaHubEvents {
  /** The set of published streams changed. */
  streams: [streams: StreamInfo[]];
  /** A viewer session ended without being asked to (its stream went away, its transport failed). */
  'viewer-closed': [session: ViewerSession, reason: string];
}
