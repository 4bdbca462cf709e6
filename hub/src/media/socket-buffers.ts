/** The UDP buffers of the SFU's transport sockets: the size asked for, and the kernel limit that may cap it. */
import { readFileSync } from 'node:fs';

/** UDP socket buffers of the transports (send and receive), bytes. */
export const DEFAULT_SOCKET_BUFFER = 2 * 1024 * 1024;

/**
 * Why the kernel will not give the transports `bytes` of UDP buffer (net.core.rmem_max / wmem_max are lower),
 * with the fix; undefined when it will or the limits cannot be read (not Linux).
 */
export function socketBufferCap(
  bytes: number,
  read = (f: string) => readFileSync(f, 'utf8'),
): string | undefined {
  const low: string[] = [];
  for (const name of ['rmem_max', 'wmem_max']) {
    let limit: number;
    try {
      limit = Number.parseInt(read(`/proc/sys/net/core/${name}`), 10);
    } catch {
      return undefined;
    }
    if (Number.isFinite(limit) && limit < bytes) low.push(`net.core.${name}=${limit}`);
  }
  if (!low.length) return undefined;
  return (
    `the kernel caps UDP socket buffers below the ${bytes} bytes live video asks for (${low.join(', ')}): ` +
    `keyframe bursts may be lost; raise them with sysctl -w net.core.rmem_max=${bytes} net.core.wmem_max=${bytes}`
  );
}
