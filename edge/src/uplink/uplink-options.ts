/** The uplink client's options, counters and events. */
import type { Command, Heartbeat, Hello, Inferred } from '@sightline/shared';
import type { BackoffOptions } from '../net/backoff.ts';
import type { HubTls } from '../net/hub-tls.ts';
import type { Outbox } from './outbox.ts';

/** What `onCommand` answers. */
export interface CommandOutcome {
  ok: boolean;
  error?: { code: string; message: string };
  data?: Record<string, unknown>;
}

export interface UplinkClientOptions {
  /** Hub base URL, e.g. https://hub.example:8443 (ws:// and wss:// work too). */
  hubUrl: string;
  /** The edge's credential, sent as `Authorization: Bearer <token>` on the upgrade. */
  token: string;
  edgeId: string;
  /** Run id of this process (the batcher's). */
  run: string;
  /** Where batches wait for their ack. */
  outbox: Outbox;
  /** The hello's content, asked at each connect. */
  hello: () => Omit<Hello, 't' | 'protocol' | 'edgeId' | 'run'>;
  /** The heartbeat's streams, asked at each heartbeat (the client adds `load`). */
  heartbeat: () => Omit<Heartbeat, 't' | 'load'>;
  /** Runs a hub command; a throw answers ok:false with code COMMAND_FAILED. */
  onCommand: (cmd: Command) => Promise<CommandOutcome>;
  /** Most batches on the wire without an ack. Default 64. */
  maxInFlight?: number;
  /** Reconnect delays. Default 500 ms doubling to 10 s. */
  backoff?: BackoffOptions;
  /** Give up on a connection whose hub does not answer hello within this (ms). Default 10000. */
  helloTimeoutMs?: number;
  /** Drop a connection that heard nothing (not even a pong) for this long (ms); at least 3 heartbeats. Default 15000. */
  deadAfterMs?: number;
  /** What is trusted for an https:// hub's certificate (loadHubCa). Default: the system CAs. */
  tls?: HubTls;
}

/** Counters of the uplink. */
export interface UplinkStats {
  connected: boolean;
  /** Batch frames put on the wire (replays included). */
  sent: number;
  acked: number;
  /** Batches the hub refused as malformed (dropped from the outbox). */
  rejected: number;
  outboxMessages: number;
  outboxBytes: number;
  /** Batches the outbox dropped since the start (bound hit). */
  dropped: number;
  /** Successful connections after the first one. */
  reconnects: number;
}

export type UplinkClientEvents = {
  connected: [];
  disconnected: [reason: string];
  /** A connection attempt ended before the hub's welcome (the client retries); `reason` in plain words. */
  'connect-failed': [reason: string];
  acked: [streamId: string, run: string, seq: number];
  /** The hub's answer to an offloaded `infer` request. */
  inferred: [answer: Inferred];
};
