/** werift ICE settings shared by the publisher and the WHIP server. */
import type { RTCPeerConnection } from 'werift';

/**
 * werift falls back to stun.l.google.com when no STUN server is configured; without network access that holds every
 * offer or answer back 5 s (its STUN timeout). Call after addTransceiver / setRemoteDescription and before
 * setLocalDescription.
 */
export function skipDefaultStun(pc: RTCPeerConnection): void {
  for (const t of pc.iceTransports) (t.connection as { stunServer?: unknown }).stunServer = undefined;
}

/**
 * Bundle policy for every werift peer connection: with the default (max-compat) werift gathers a second ICE
 * connection for the data channel that pc.close() never closes, leaking two UDP sockets per peer connection
 * (they keep a process alive). max-bundle gathers one.
 */
export const WERIFT_BUNDLE = 'max-bundle' as const;

/**
 * Closes a werift peer connection and, a moment later, its ICE connections again: a host candidate socket whose
 * gathering finishes after close() (werift pushes it into a list close() already emptied) would otherwise stay
 * open and keep the process alive.
 */
export async function closePeer(pc: RTCPeerConnection): Promise<void> {
  const transports = [...pc.iceTransports];
  await pc.close().catch(() => {});
  await new Promise((r) => setTimeout(r, 200));
  for (const t of transports) await t.connection.close().catch(() => {});
}
