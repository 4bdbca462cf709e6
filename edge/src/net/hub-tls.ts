/**
 * TLS from the edge to the hub (docs/tls.md): the CA bundle trusted for the hub's certificate, HTTP requests that
 * use it (fetch cannot take a CA), and plain words for a certificate the edge refused. Verification is always on.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConfigError, describeError, SightlineError } from '@sightline/shared';

/** What the edge trusts for the hub's certificate. */
export interface HubTls {
  /** PEM certificates trusted instead of the system CAs. Default: the system CAs (with $NODE_EXTRA_CA_CERTS). */
  ca?: string;
  /** Where `ca` came from, for messages. */
  caPath?: string;
}

/** Reads a PEM CA bundle (hub.ca, --hub-ca) and checks that it holds at least one certificate; a ConfigError otherwise. */
export function loadHubCa(path: string): HubTls {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the hub CA bundle ${path} (hub.ca, --hub-ca): ${describeError(err)}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new ConfigError(
      `the hub CA bundle ${path} (hub.ca, --hub-ca) holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  }
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new ConfigError(
        `certificate ${i + 1} of the hub CA bundle ${path} does not parse: ${describeError(err)}`,
      );
    }
  });
  return { ca: text, caPath: path };
}

/** The options of `tls.connect` (https.request, ws) for `tls`: verification on, with its CA when it has one. */
export function tlsConnectOptions(tls: HubTls | undefined): { ca?: string; rejectUnauthorized: true } {
  return { ...(tls?.ca ? { ca: tls.ca } : {}), rejectUnauthorized: true };
}

/** Node's codes for a hub certificate whose issuer the edge does not trust. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
]);

/**
 * What to tell people when `err` is a TLS failure talking to the hub (untrusted, expired or misnamed certificate, a
 * hub that does not speak TLS); undefined for any other error.
 */
export function describeHubTlsError(err: unknown, tls?: HubTls): string | undefined {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (UNTRUSTED.has(code)) {
    return tls?.caPath
      ? `the hub's certificate is not trusted: ${message}; it is not signed by a CA in ${tls.caPath} (hub.ca, --hub-ca)`
      : `the hub's certificate is not trusted: ${message}; pass --hub-ca <file> (hub.ca in the config) with the CA that signed it, or the hub's certificate itself when self-signed`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `the hub's certificate is not valid now: ${message}; renew it on the hub (or check this machine's clock)`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the hub's certificate does not name the host of the hub URL: ${message}; use a host name the certificate lists, or reissue it with this one`;
  }
  if (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(message)) {
    return `the hub does not speak TLS on this port (${message}): use http:// for a hub without a certificate`;
  }
  return undefined;
}

/** The hub's answer to a request. */
export interface HubResponse {
  status: number;
  statusText: string;
  text: string;
}

/** Options of `hubRequest`. */
export interface HubRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Give up after this long (ms). Default 10000. */
  timeoutMs?: number;
  tls?: HubTls;
}

/**
 * One HTTP(S) request to the hub with `tls` trusted (node:http(s): fetch takes no CA); resolves with the whole
 * body as text. Rejects with the socket's error (describeHubTlsError words a TLS one) or a timeout.
 */
export function hubRequest(url: string, init: HubRequestInit = {}): Promise<HubResponse> {
  const target = new URL(url);
  if (target.protocol === 'ws:' || target.protocol === 'wss:')
    target.protocol = target.protocol === 'ws:' ? 'http:' : 'https:';
  const https = target.protocol === 'https:';
  if (!https && target.protocol !== 'http:') {
    return Promise.reject(new TypeError(`Expected an http(s) hub URL but received ${url}`));
  }
  const timeoutMs = init.timeoutMs ?? 10_000;
  return new Promise<HubResponse>((resolve, reject) => {
    const options = {
      method: init.method ?? 'GET',
      headers: {
        ...init.headers,
        ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}),
      },
      signal: AbortSignal.timeout(timeoutMs),
    };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    };
    const req = https
      ? httpsRequest(target, { ...options, ...tlsConnectOptions(init.tls) }, onResponse)
      : httpRequest(target, options, onResponse);
    req.on('error', (err) =>
      reject(
        err.name === 'AbortError'
          ? new SightlineError('HUB_UNREACHABLE', `no answer within ${timeoutMs} ms`, { cause: err })
          : (err as Error),
      ),
    );
    req.end(init.body);
  });
}
