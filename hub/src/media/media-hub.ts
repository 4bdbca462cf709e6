/**
 * The hub's SFU: edges publish streams (a WebRtcTransport with a video Producer and the `meta` DataProducer per
 * `<edgeId>/<streamId>`), viewers watch them (a WebRtcTransport with a Consumer and a DataConsumer each). Emits
 * `streams` whenever the set of publications changes. Without a mediasoup worker it stays `available: false`
 * and every call rejects with MEDIA_UNAVAILABLE.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { childLogger, describeError, SightlineError } from '@sightline/shared';
import type { types as T } from 'mediasoup';
import type { HubMetrics } from '../hub-metrics.ts';
import { MediaError } from './media-error.ts';
import type { MediaHubEvents, PublishedVideo, StreamInfo, ViewerSession } from './media-types.ts';
import { PayloadTypeRouters } from './payload-type-routers.ts';
import {
  offeredPayloadType,
  parsePublishOffer,
  parseViewerAnswer,
  parseWhepOffer,
  SdpError,
  writePublishAnswer,
  writeViewerOffer,
  writeWhepAnswer,
} from './sdp-bridge.ts';
import { DEFAULT_SOCKET_BUFFER, socketBufferCap } from './socket-buffers.ts';
import { loadMediasoup, sameCodec, WorkerPool } from './worker-pool.ts';

/** The stream id of the `meta` data channel on both legs (negotiated, like mediasoup-client does it). */
export const META_STREAM_ID = 0;

export interface MediaHubOptions {
  /** Whether live video runs at all. Default true. */
  enabled?: boolean;
  /** mediasoup workers. Default os.availableParallelism(). */
  workers?: number;
  /** Streams per router. Default 8. */
  streamsPerRouter?: number;
  /** Address the WebRTC transports listen on. Default $SIGHTLINE_MEDIA_LISTEN_IP or 127.0.0.1. */
  listenIp?: string;
  /** Address (or host name) announced in ICE candidates, for a hub behind NAT. Default $SIGHTLINE_MEDIA_ANNOUNCED_IP or none (the listen address). */
  announcedAddress?: string;
  /** Lowest UDP port of the transports. Default 40000. */
  rtcMinPort?: number;
  /** Highest UDP port of the transports. Default 49999. */
  rtcMaxPort?: number;
  /**
   * UDP send and receive buffer of every transport socket, bytes (the kernel caps it at net.core.rmem_max /
   * wmem_max). A keyframe leaves as a burst of tens of packets; the OS default (often 208 KiB) dropped them.
   * Default 2 MiB.
   */
  socketBufferBytes?: number;
  /** Prometheus gauges (publications, viewers, worker restarts). Optional. */
  metrics?: HubMetrics;
}

interface Publication {
  info: StreamInfo;
  router: T.Router;
  transport: T.WebRtcTransport;
  producer: T.Producer;
  dataProducer?: T.DataProducer;
  viewers: Set<ViewerSession>;
  /** The codec parameters as the edge offered them (mediasoup reports the router's profile-level-id instead). */
  offered: T.RtpCodecParameters;
  /** Who published it (the edge's signalling connection); closeOwner() ends what one owner published. */
  owner?: object;
  closed: boolean;
}

export class MediaHub extends EventEmitter<MediaHubEvents> {
  readonly #pool?: WorkerPool;
  readonly #opts: MediaHubOptions;
  readonly #pubs = new Map<string, Publication>();
  readonly #sessions = new Map<string, ViewerSession>();
  /** Per stream key: the publish/unpublish in progress (they run one after another). */
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #log = childLogger('media');
  readonly #listenInfo: T.TransportListenInfo;
  readonly #buffers: { sendBufferSize: number; recvBufferSize: number };
  /** Routers for WHEP players that want another payload type than the publication's router uses. */
  readonly #ptRouters: PayloadTypeRouters;
  /** Why live video is off (undefined when it is on). */
  readonly unavailableReason?: string;
  #closed = false;

  private constructor(options: MediaHubOptions, pool: WorkerPool | undefined, reason?: string) {
    super();
    this.#opts = options;
    this.#pool = pool;
    this.unavailableReason = reason;
    const announced = options.announcedAddress ?? process.env.SIGHTLINE_MEDIA_ANNOUNCED_IP;
    const buffer = options.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER;
    this.#buffers = { sendBufferSize: buffer, recvBufferSize: buffer };
    this.#ptRouters = new PayloadTypeRouters(this.#buffers, (router) => this.#pool_().workerOf(router));
    this.#listenInfo = {
      protocol: 'udp',
      ip: options.listenIp ?? process.env.SIGHTLINE_MEDIA_LISTEN_IP ?? '127.0.0.1',
      ...(announced ? { announcedAddress: announced } : {}),
      portRange: { min: options.rtcMinPort ?? 40000, max: options.rtcMaxPort ?? 49999 },
      ...this.#buffers,
    };
    pool?.on('lost', (keys) => {
      for (const key of keys) {
        const pub = this.#pubs.get(key);
        if (pub) this.#closePublication(pub, 'its mediasoup worker died');
      }
    });
    pool?.on('restart', (_index, ok) => {
      if (ok) options.metrics?.mediaWorkerRestarts.inc();
    });
  }

  /**
   * Starts the workers. Never rejects: when mediasoup cannot run (no worker binary, the worker fails to start)
   * the hub is returned unavailable and one line says why.
   */
  static async start(options: MediaHubOptions = {}): Promise<MediaHub> {
    const log = childLogger('media');
    if (options.enabled === false) return new MediaHub(options, undefined, 'live video is disabled');
    try {
      const ms = await loadMediasoup();
      const pool = await WorkerPool.start(ms, {
        workers: options.workers,
        streamsPerRouter: options.streamsPerRouter,
      });
      log.info({ workers: pool.pids, version: ms.version }, 'live video on (mediasoup)');
      const capped = socketBufferCap(options.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER);
      if (capped) log.warn(capped);
      return new MediaHub(options, pool);
    } catch (err) {
      // The reason alone (no code): it follows "live video is off: " in answers and in the log.
      const reason = err instanceof SightlineError ? err.message : describeError(err);
      log.warn(`live video is off: ${reason}`);
      return new MediaHub(options, undefined, reason);
    }
  }

  /** Whether live video runs (a mediasoup worker pool is up). */
  get available(): boolean {
    return !!this.#pool && !this.#closed;
  }

  /** The worker pool (tests: kill a worker). */
  get pool(): WorkerPool | undefined {
    return this.#pool;
  }

  /** The published streams, sorted by key. */
  streams(): StreamInfo[] {
    return [...this.#pubs.values()].map((p) => p.info).sort((a, b) => a.key.localeCompare(b.key));
  }

  /** The viewer session with this id. */
  session(id: string): ViewerSession | undefined {
    return this.#sessions.get(id);
  }

  /** The producer of a published stream (tests, stats). */
  producer(key: string): T.Producer | undefined {
    return this.#pubs.get(key)?.producer;
  }

  #pool_(): WorkerPool {
    if (!this.#pool || this.#closed) {
      throw new MediaError(
        'MEDIA_UNAVAILABLE',
        `live video is off: ${this.unavailableReason ?? 'the hub is closing'}`,
      );
    }
    return this.#pool;
  }

  #serial<R>(key: string, job: () => Promise<R>): Promise<R> {
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(job);
    const tail = next.catch(() => {});
    this.#chains.set(key, tail);
    void tail.then(() => {
      if (this.#chains.get(key) === tail) this.#chains.delete(key);
    });
    return next;
  }

  async #transport(router: T.Router, sctp: boolean): Promise<T.WebRtcTransport> {
    return router.createWebRtcTransport({
      listenInfos: [this.#listenInfo],
      ...(sctp
        ? { enableSctp: true, numSctpStreams: { OS: 1024, MIS: 1024 }, maxSctpMessageSize: 262144 }
        : {}),
    });
  }

  /**
   * Publishes (or re-publishes, replacing the old producer) an edge's stream from its SDP offer; resolves the
   * SDP answer. Rejects with SDP_INVALID for an offer the hub cannot use.
   */
  publish(
    edgeId: string,
    streamId: string,
    offerSdp: string,
    video: PublishedVideo,
    owner?: object,
  ): Promise<string> {
    const pool = this.#pool_();
    const key = `${edgeId}/${streamId}`;
    return this.#serial(key, async () => {
      const offer = parsePublishOffer(offerSdp);
      const old = this.#pubs.get(key);
      if (old) this.#closePublication(old, 'replaced by a new publish', false);
      const router = await pool.routerFor(key);
      const transport = await this.#transport(router, true);
      try {
        let producer: T.Producer;
        try {
          producer = await transport.produce({ kind: 'video', rtpParameters: offer.video!.rtpParameters });
        } catch (err) {
          throw new SdpError(`the hub cannot receive this video: ${(err as Error).message}`);
        }
        const dataProducer = offer.data
          ? await transport.produceData({
              sctpStreamParameters: { streamId: META_STREAM_ID, ordered: true },
              label: 'meta',
            })
          : undefined;
        await transport.connect({ dtlsParameters: offer.dtlsParameters });
        const answer = writePublishAnswer(offerSdp, offer, transport, producer, !!offer.data);
        const pub: Publication = {
          info: { key, edgeId, streamId, video },
          router,
          transport,
          producer,
          dataProducer,
          viewers: new Set(),
          offered: offer.video!.rtpParameters.codecs[0]!,
          owner,
          closed: false,
        };
        this.#pubs.set(key, pub);
        transport.on('routerclose', () => this.#closePublication(pub, 'its router closed'));
        this.#opts.metrics?.mediaPublications.set(this.#pubs.size);
        this.#log.info(
          {
            key,
            codec: producer.rtpParameters.codecs[0]?.mimeType,
            pt: producer.rtpParameters.codecs[0]?.payloadType,
          },
          'stream published',
        );
        this.emit('streams', this.streams());
        return answer;
      } catch (err) {
        transport.close();
        if (!this.#pubs.has(key)) pool.release(key);
        throw err;
      }
    });
  }

  /**
   * Ends a published stream (its viewers' sessions end too); with `owner`, only when that owner published it.
   * Resolves false when it was not published.
   */
  unpublish(edgeId: string, streamId: string, owner?: object): Promise<boolean> {
    const key = `${edgeId}/${streamId}`;
    return this.#serial(key, async () => {
      const pub = this.#pubs.get(key);
      if (!pub || (owner && pub.owner !== owner)) return false;
      this.#closePublication(pub, 'unpublished');
      return true;
    });
  }

  /** Ends every stream of an edge (its signalling socket closed). */
  async closeEdge(edgeId: string): Promise<void> {
    const mine = [...this.#pubs.values()].filter((p) => p.info.edgeId === edgeId);
    await Promise.all(mine.map((p) => this.unpublish(edgeId, p.info.streamId)));
  }

  /** Ends every stream `owner` published (an edge's signalling socket closed; a newer socket's streams stay). */
  async closeOwner(owner: object): Promise<void> {
    const mine = [...this.#pubs.values()].filter((p) => p.owner === owner);
    await Promise.all(mine.map((p) => this.unpublish(p.info.edgeId, p.info.streamId, owner)));
  }

  #closePublication(pub: Publication, reason: string, announce = true): void {
    if (pub.closed) return;
    pub.closed = true;
    for (const s of [...pub.viewers]) this.#endSession(s, `stream ${pub.info.key} ended (${reason})`, true);
    pub.transport.close();
    if (this.#pubs.get(pub.info.key) === pub) this.#pubs.delete(pub.info.key);
    if (!this.#pubs.has(pub.info.key)) this.#pool?.release(pub.info.key);
    this.#opts.metrics?.mediaPublications.set(this.#pubs.size);
    this.#log.info({ key: pub.info.key, reason }, 'stream unpublished');
    if (announce && !this.#closed) this.emit('streams', this.streams());
  }

  #published(key: string): Publication {
    this.#pool_();
    const pub = this.#pubs.get(key);
    if (!pub || pub.closed) throw new MediaError('STREAM_UNKNOWN', `no stream ${key} is published`);
    return pub;
  }

  #track(session: ViewerSession, pub: Publication): void {
    this.#sessions.set(session.id, session);
    pub.viewers.add(session);
    this.#countViewers();
    const end = (why: string) => this.#endSession(session, why, true);
    session.consumer.on('producerclose', () => end('the stream ended'));
    session.consumer.on('transportclose', () => end('transport closed'));
    session.transport.on('dtlsstatechange', (state) => {
      if (state === 'connected') {
        // The edge answers a PLI at its next keyframe (a file source at its next GOP).
        void session.consumer.requestKeyFrame().catch(() => {});
      } else if (state === 'failed' || state === 'closed') {
        end(`DTLS ${state}`);
      }
    });
  }

  #countViewers(): void {
    const m = this.#opts.metrics?.mediaViewers;
    if (!m) return;
    let ws = 0;
    let whep = 0;
    for (const s of this.#sessions.values()) s.via === 'ws' ? ws++ : whep++;
    m.set({ via: 'ws' }, ws);
    m.set({ via: 'whep' }, whep);
  }

  /**
   * Opens a viewer session on a published stream: a transport, a paused Consumer and a DataConsumer of `meta`
   * (negotiated data channel id META_STREAM_ID); resolves the session and the hub's SDP offer for it.
   */
  async watch(key: string): Promise<{ session: ViewerSession; offer: string }> {
    const pub = this.#published(key);
    const transport = await this.#transport(pub.router, !!pub.dataProducer);
    try {
      const consumer = await transport.consume({
        producerId: pub.producer.id,
        rtpCapabilities: pub.router.rtpCapabilities,
        paused: true,
        mid: '0',
      });
      const dataConsumer = pub.dataProducer
        ? await transport.consumeData({ dataProducerId: pub.dataProducer.id })
        : undefined;
      if (pub.closed) throw new MediaError('STREAM_UNKNOWN', `stream ${key} ended`);
      const session: ViewerSession = {
        id: randomUUID(),
        key,
        via: 'ws',
        transport,
        consumer,
        dataConsumer,
        closed: false,
      };
      this.#track(session, pub);
      // Offer the H.264 profile-level-id the edge published (its SPS), not the router codec's.
      const rtpParameters = {
        ...consumer.rtpParameters,
        codecs: consumer.rtpParameters.codecs.map((c, i) =>
          i === 0 && sameCodec(c, pub.offered) && pub.offered.parameters?.['profile-level-id']
            ? {
                ...c,
                parameters: {
                  ...c.parameters,
                  'profile-level-id': pub.offered.parameters['profile-level-id'],
                },
              }
            : c,
        ),
      };
      const offer = writeViewerOffer(transport, { id: consumer.id, rtpParameters }, !!dataConsumer, key);
      return { session, offer };
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** Completes a viewer session with the viewer's SDP answer: connects DTLS, resumes and asks for a keyframe. */
  async answer(sessionId: string, answerSdp: string): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (!session || session.closed) throw new MediaError('SESSION_UNKNOWN', 'no such viewer session');
    const { dtlsParameters } = parseViewerAnswer(answerSdp);
    await session.transport.connect({ dtlsParameters });
    await session.consumer.resume();
    await session.consumer.requestKeyFrame().catch(() => {});
  }

  /**
   * A WHEP session from a player's offer (video only). The consumer sends with the payload type the player
   * offered for the codec: when the router's differs, the stream is piped to a router of the same worker whose
   * codec uses the player's payload type.
   */
  async whep(key: string, offerSdp: string): Promise<{ session: ViewerSession; answer: string }> {
    const pub = this.#published(key);
    const offer = parseWhepOffer(offerSdp);
    const source = pub.producer.rtpParameters.codecs[0]!;
    const routerCodec = (await pub.producer.consumableRtpParameters).codecs.find(
      (c) => !/rtx$/i.test(c.mimeType),
    );
    const wantedPt = routerCodec ? offeredPayloadType(offer, routerCodec) : undefined;
    if (!routerCodec || wantedPt === undefined) {
      throw new SdpError(
        `the offer cannot receive this stream (${source.mimeType} profile ${source.parameters?.['profile-level-id'] ?? '-'})`,
      );
    }
    let router = pub.router;
    let producerId = pub.producer.id;
    if (wantedPt !== routerCodec.payloadType) {
      ({ router, producerId } = await this.#ptRouters.get(pub, routerCodec, wantedPt));
    }
    const transport = await this.#transport(router, false);
    try {
      const consumer = await transport.consume({
        producerId,
        rtpCapabilities: offer.rtpCapabilities,
        paused: true,
        enableRtx: false,
        mid: offer.video.mid,
      });
      await transport.connect({ dtlsParameters: offer.dtlsParameters });
      if (pub.closed) throw new MediaError('STREAM_UNKNOWN', `stream ${key} ended`);
      const session: ViewerSession = {
        id: randomUUID(),
        key,
        via: 'whep',
        transport,
        consumer,
        closed: false,
      };
      this.#track(session, pub);
      const answer = writeWhepAnswer(offerSdp, offer, transport, consumer);
      await consumer.resume();
      return { session, answer };
    } catch (err) {
      transport.close();
      if (err instanceof Error && err.name === 'UnsupportedError') {
        throw new SdpError(`the offer cannot receive this stream: ${err.message}`);
      }
      throw err;
    }
  }

  /** Ends a viewer session (its socket closed, the viewer unwatched, a WHEP DELETE). False when unknown. */
  closeSession(sessionId: string): boolean {
    const session = this.#sessions.get(sessionId);
    if (!session) return false;
    this.#endSession(session, 'closed by the viewer', false);
    return true;
  }

  #endSession(session: ViewerSession, reason: string, notify: boolean): void {
    if (session.closed) return;
    session.closed = true;
    this.#sessions.delete(session.id);
    this.#pubs.get(session.key)?.viewers.delete(session);
    session.transport.close();
    this.#countViewers();
    if (notify && !this.#closed) this.emit('viewer-closed', session, reason);
  }

  /** Closes every session, stream, router and worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#sessions.values()]) this.#endSession(s, 'hub closing', false);
    for (const p of [...this.#pubs.values()]) this.#closePublication(p, 'hub closing', false);
    this.#pool?.close();
    this.#opts.metrics?.mediaPublications.set(0);
  }
}
