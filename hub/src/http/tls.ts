/** The hub's own TLS (docs/tls.md): the certificate and key it serves HTTPS and WSS with, checked before it listens. */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, describeError } from '@sightline/shared';

/** A certificate chain and its private key, read and checked. */
export interface HubTlsFiles {
  /** PEM certificate chain, leaf first. */
  cert: Buffer;
  /** PEM private key of the leaf. */
  key: Buffer;
  /** The leaf's validity, for the start log. */
  validTo: Date;
  /** The leaf's subject alternative names (e.g. "IP Address:127.0.0.1, DNS:localhost"), for the start log. */
  names: string;
}

/** `Strict-Transport-Security` the hub sends when it serves TLS itself: 180 days, this host only. */
export const HSTS_VALUE = 'max-age=15552000';

/**
 * The TLS paths from the options, else $SIGHTLINE_TLS_CERT / $SIGHTLINE_TLS_KEY; undefined when neither is set.
 * Throws a ConfigError when only one of the two is given.
 */
export function tlsPaths(cert?: string, key?: string): { cert: string; key: string } | undefined {
  const c = cert ?? (process.env.SIGHTLINE_TLS_CERT || undefined);
  const k = key ?? (process.env.SIGHTLINE_TLS_KEY || undefined);
  if (c === undefined && k === undefined) return undefined;
  if (c === undefined || k === undefined) {
    throw new ConfigError(
      `TLS needs both a certificate and its key: got ${c === undefined ? `a key (${k}) but no certificate (--tls-cert, $SIGHTLINE_TLS_CERT)` : `a certificate (${c}) but no key (--tls-key, $SIGHTLINE_TLS_KEY)`}`,
    );
  }
  return { cert: c, key: k };
}

function readPem(path: string, what: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read the TLS ${what} ${path} (${flag}): ${describeError(err)}`);
  }
}

/**
 * Reads the certificate chain and key and checks that each is PEM and that the key belongs to the certificate.
 * Every failure is a ConfigError naming the file.
 */
export function loadHubTls(paths: { cert: string; key: string }): HubTlsFiles {
  const cert = readPem(paths.cert, 'certificate', '--tls-cert');
  const key = readPem(paths.key, 'key', '--tls-key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(
      `${paths.cert} (--tls-cert) is not a PEM certificate (-----BEGIN CERTIFICATE-----): ${describeError(err)}`,
    );
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(
      `${paths.key} (--tls-key) is not a PEM private key (or it is encrypted; the hub takes unencrypted keys): ${describeError(err)}`,
    );
  }
  if (!leaf.checkPrivateKey(createPrivateKey(key))) {
    throw new ConfigError(
      `the TLS key ${paths.key} does not belong to the certificate ${paths.cert} (their public keys differ)`,
    );
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`cannot use ${paths.cert} with ${paths.key} for TLS: ${describeError(err)}`);
  }
  return { cert, key, validTo: new Date(leaf.validTo), names: leaf.subjectAltName ?? leaf.subject };
}
