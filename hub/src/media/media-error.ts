/** The error of the media API, with the codes the signalling sockets and WHEP answer with. */
import { type ErrorCode, SightlineError } from '@sightline/shared';

/** Error codes of the media API (also used by the signalling sockets and WHEP). */
export type MediaErrorCode = Extract<
  ErrorCode,
  'MEDIA_UNAVAILABLE' | 'STREAM_UNKNOWN' | 'SDP_INVALID' | 'SESSION_UNKNOWN'
>;

export class MediaError extends SightlineError {
  declare readonly code: MediaErrorCode;
  constructor(code: MediaErrorCode, message: string) {
    super(code, message);
  }
}
