/**
 * The RTP inputs of live WHIP sessions, by stream id: the WHIP server forwards a published camera's RTP to a local
 * UDP port and registers an SDP file that describes it here; a `whip://<streamId>` source opens that file with FFmpeg.
 */

const inputs = new Map<string, string>();

/** Register the SDP file of `streamId`'s forwarded RTP; returns a function that unregisters it (if still the same). */
export function registerWhipInput(streamId: string, sdpPath: string): () => void {
  inputs.set(streamId, sdpPath);
  return () => {
    if (inputs.get(streamId) === sdpPath) inputs.delete(streamId);
  };
}

/** The SDP file registered for `streamId`, if a WHIP session publishes it now. */
export function whipInputPath(streamId: string): string | undefined {
  return inputs.get(streamId);
}

/**
 * FFmpeg input options for a WHIP SDP file: the protocols it may open, RTP received on 127.0.0.1 only, a short
 * probe (frames read while probing reach the consumer late), a larger socket buffer for keyframe bursts, and a
 * small reorder queue (the RTP comes over loopback, in order).
 */
export const WHIP_INPUT_OPTIONS: Readonly<Record<string, string | number>> = {
  protocol_whitelist: 'file,udp,rtp',
  localaddr: '127.0.0.1',
  analyzeduration: 200_000,
  probesize: 500_000,
  buffer_size: 4 << 20,
  reorder_queue_size: 64,
};
