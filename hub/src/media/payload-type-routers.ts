/**
 * Routers for WHEP players that offer another payload type for the codec than the publication's router uses: per
 * publication router and payload type, a router of the same worker whose codec uses that payload type, fed by a
 * pipe from the publication's producer. Closed with the publication's router.
 */
import type { types as T } from 'mediasoup';
import { MediaError } from './media-error.ts';
import { SdpError } from './sdp-bridge.ts';
import { MEDIA_CODECS, sameCodec } from './worker-pool.ts';

/** What a publication gives: its router, its producer, and its key (for errors). */
export interface PipedPublication {
  router: T.Router;
  producer: T.Producer;
  info: { key: string };
}

export class PayloadTypeRouters {
  /** Per publication router, per payload type: the router, and the producer ids piped into it (source -> piped). */
  readonly #byRouter = new Map<T.Router, Map<number, { router: T.Router; piped: Map<string, string> }>>();
  readonly #buffers: { sendBufferSize: number; recvBufferSize: number };
  readonly #workerOf: (router: T.Router) => T.Worker | undefined;

  /**
   * @param buffers UDP buffers of the pipe transports' sockets.
   * @param workerOf The worker a router runs in (throws MEDIA_UNAVAILABLE once live video is off).
   */
  constructor(
    buffers: { sendBufferSize: number; recvBufferSize: number },
    workerOf: (router: T.Router) => T.Worker | undefined,
  ) {
    this.#buffers = buffers;
    this.#workerOf = workerOf;
  }

  /** A router whose codec for `pub`'s stream uses payload type `pt`, and the id of the producer to consume there. */
  async get(
    pub: PipedPublication,
    codec: T.RtpCodecParameters,
    pt: number,
  ): Promise<{ router: T.Router; producerId: string }> {
    let byPt = this.#byRouter.get(pub.router);
    if (!byPt) {
      byPt = new Map();
      this.#byRouter.set(pub.router, byPt);
      pub.router.observer.once('close', () => {
        for (const e of byPt!.values()) e.router.close();
        this.#byRouter.delete(pub.router);
      });
    }
    let entry = byPt.get(pt);
    if (!entry) {
      // The stream's codec alone, at the player's payload type (RTX, which the consumer does not use, gets another).
      const base = MEDIA_CODECS.find((c) => sameCodec(c, codec));
      if (!base) throw new SdpError(`no router codec for ${codec.mimeType}`);
      const worker = this.#workerOf(pub.router);
      if (!worker) throw new MediaError('STREAM_UNKNOWN', `stream ${pub.info.key} lost its router`);
      const router = await worker.createRouter({ mediaCodecs: [{ ...base, preferredPayloadType: pt }] });
      entry = { router, piped: new Map() };
      byPt.set(pt, entry);
    }
    let producerId = entry.piped.get(pub.producer.id);
    if (!producerId) {
      // A pipe by hand: router.pipeToRouter() keeps the producer id, which clashes when both routers share a worker.
      // Both ends live in one worker: a keyframe's burst must fit the receiving socket's buffer before the worker
      // reads it (with the OS default, every keyframe lost ~30 packets and a player never decoded a frame).
      const listenInfo: T.TransportListenInfo = { protocol: 'udp', ip: '127.0.0.1', ...this.#buffers };
      const out = await pub.router.createPipeTransport({ listenInfo });
      const into = await entry.router.createPipeTransport({ listenInfo });
      try {
        await out.connect({ ip: '127.0.0.1', port: into.tuple.localPort });
        await into.connect({ ip: '127.0.0.1', port: out.tuple.localPort });
        const pipeConsumer = await out.consume({ producerId: pub.producer.id });
        const pipeProducer = await into.produce({ kind: 'video', rtpParameters: pipeConsumer.rtpParameters });
        pipeConsumer.on('producerclose', () => {
          out.close();
          into.close();
        });
        producerId = pipeProducer.id;
        const e = entry;
        const pid = pub.producer.id;
        e.piped.set(pid, producerId);
        pipeProducer.observer.once('close', () => e.piped.delete(pid));
      } catch (err) {
        out.close();
        into.close();
        throw err;
      }
    }
    return { router: entry.router, producerId };
  }
}
