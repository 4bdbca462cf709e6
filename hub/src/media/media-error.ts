/** The error of the media API, with the codes the signalling sockets and WHEP answer with. */

/** Error codes of the media API (also used by the signalling sockets and WHEP). */
export type MediaErrorCode = 'MEDIA_UNAVAILABLE' | 'STREAM_UNKNOWN' | 'SDP_INVALID' | 'SESSION_UNKNOWN';

export class MediaError extends Error {
  constructor(
    readonly code: MediaErrorCode,
    message: string,
  ) {
    super(message);
  }
}
