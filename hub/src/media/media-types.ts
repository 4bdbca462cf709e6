/** What the SFU hands out: published streams as viewers see them, viewer sessions, and its events. */
import type { types as T } from 'mediasoup';

/** The video description an edge publishes with (kept as sent; viewers get it in `streams`). */
export interface PublishedVideo {
  codec: string;
  profileLevelId?: string;
  width?: number;
  height?: number;
  fps?: number;
  transcoded?: boolean;
  note?: string;
  [extra: string]: unknown;
}

/** One published stream as viewers see it. */
export interface StreamInfo {
  key: string;
  edgeId: string;
  streamId: string;
  video: PublishedVideo;
}

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
  viewerclosed: [session: ViewerSession, reason: string];
}
