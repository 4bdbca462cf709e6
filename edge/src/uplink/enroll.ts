/** Enrolling an edge with a hub (enrollment token -> edge credential) and keeping that credential on disk. */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, type ErrorCode, isErrorCode, SightlineError } from '@sightline/shared';
import { describeHubTlsError, type HubResponse, type HubTls, hubRequest } from '../net/hub-tls.ts';

/** What an edge keeps after enrolling. */
export interface EdgeCredential {
  hubUrl: string;
  edgeId: string;
  token: string;
}

export interface EnrollOptions {
  /** Hub base URL, e.g. https://hub.example:8443. */
  hubUrl: string;
  /** One-time enrollment token made by a hub admin. */
  enrollmentToken: string;
  edgeId: string;
  /** Display name on the hub. Default: the hub's choice (the edge id). */
  name?: string;
  /** Give up after this long (ms). Default 10000. */
  timeoutMs?: number;
  /** What is trusted for an https:// hub's certificate (loadHubCa). Default: the system CAs. */
  tls?: HubTls;
}

/**
 * Enrollment failed: `code` is the hub's error code (UNAUTHORIZED, FORBIDDEN, ENROLLMENT_USED...), or
 * HUB_UNREACHABLE / HUB_CERT_REFUSED / BAD_RESPONSE (also for a code the catalogue does not know; the message
 * names it).
 */
export class EnrollError extends SightlineError {
  readonly status?: number;
  constructor(code: ErrorCode, message: string, options?: { status?: number; cause?: unknown }) {
    super(code, message, { cause: options?.cause });
    this.status = options?.status;
  }
}

/** The edge's credential file cannot be read, parsed or written (CREDENTIAL_INVALID); the message names the file. */
export class CredentialError extends SightlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CREDENTIAL_INVALID', message, options);
  }
}

/** The text of a thrown value without a code: it goes inside a message that has its own. */
function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Trades an enrollment token for the edge's credential: POST /api/v1/enroll, HTTP 201 `{ edgeId, token }`. */
export async function enrollEdge(options: EnrollOptions): Promise<EdgeCredential> {
  const url = new URL('/api/v1/enroll', options.hubUrl).href;
  let res: HubResponse;
  try {
    // node:https rather than fetch: fetch cannot be given the hub's CA (hub.ca).
    res = await hubRequest(url, {
      method: 'POST',
      // The enrollment token is the bearer token of this one request.
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${options.enrollmentToken}`,
      },
      body: JSON.stringify({
        edgeId: options.edgeId,
        ...(options.name !== undefined ? { name: options.name } : {}),
      }),
      timeoutMs: options.timeoutMs ?? 10_000,
      tls: options.tls,
    });
  } catch (err) {
    const tlsReason = describeHubTlsError(err, options.tls);
    throw new EnrollError(
      tlsReason ? 'HUB_CERT_REFUSED' : 'HUB_UNREACHABLE',
      tlsReason
        ? `cannot enroll with the hub at ${options.hubUrl}: ${tlsReason}`
        : `cannot reach hub at ${options.hubUrl} to enroll: ${reasonOf(err)}`,
      { cause: err },
    );
  }
  const text = res.text;
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.status !== 201 && res.status !== 200) {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (error && typeof error.code === 'string') {
      throw new EnrollError(
        isErrorCode(error.code) ? error.code : 'BAD_RESPONSE',
        `hub refused enrollment (HTTP ${res.status} ${error.code}): ${String(error.message ?? '')}`,
        { status: res.status },
      );
    }
    throw new EnrollError(
      'BAD_RESPONSE',
      `hub refused enrollment (HTTP ${res.status}): ${text.slice(0, 200) || res.statusText}`,
      { status: res.status },
    );
  }
  const ok = body as { edgeId?: unknown; token?: unknown } | undefined;
  if (typeof ok?.edgeId !== 'string' || typeof ok.token !== 'string' || !ok.token) {
    throw new EnrollError(
      'BAD_RESPONSE',
      `hub answered enrollment with HTTP ${res.status} but no { edgeId, token }: ${text.slice(0, 200)}`,
      { status: res.status },
    );
  }
  return { hubUrl: options.hubUrl, edgeId: ok.edgeId, token: ok.token };
}

/** Path of the credential file in a state folder. */
export function credentialPath(stateDir: string): string {
  return join(stateDir, 'credential.json');
}

/** Reads `<stateDir>/credential.json`; undefined when there is none, an error naming the file when malformed. */
export async function loadCredential(stateDir: string): Promise<EdgeCredential | undefined> {
  const path = credentialPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CredentialError(`cannot read edge credential ${path}: ${describeError(err)}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CredentialError(
      `malformed edge credential ${path}: not JSON (${describeError(err)}); enroll again`,
      {
        cause: err,
      },
    );
  }
  const c = data as Partial<Record<keyof EdgeCredential, unknown>> | null;
  const missing = (['hubUrl', 'edgeId', 'token'] as const).filter(
    (k) => typeof c?.[k] !== 'string' || (c[k] as string).length === 0,
  );
  if (typeof data !== 'object' || data === null || Array.isArray(data) || missing.length > 0) {
    throw new CredentialError(
      `malformed edge credential ${path}: ${missing.length ? `missing or empty ${missing.join(', ')}` : 'not an object'}; enroll again`,
    );
  }
  return { hubUrl: c!.hubUrl as string, edgeId: c!.edgeId as string, token: c!.token as string };
}

/** Writes `<stateDir>/credential.json` atomically, readable by the owner only (mode 0600). */
export async function saveCredential(stateDir: string, credential: EdgeCredential): Promise<string> {
  const path = credentialPath(stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const { hubUrl, edgeId, token } = credential;
  try {
    await writeFile(tmp, `${JSON.stringify({ hubUrl, edgeId, token }, null, 2)}\n`, {
      mode: 0o600,
      flag: 'wx',
    });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new CredentialError(`cannot save edge credential ${path}: ${describeError(err)}`, { cause: err });
  }
  return path;
}
