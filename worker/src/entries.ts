/** Reads request entries off a model stream: Redis replies to entries, entries to checked InferRequests. */
import { decode } from '@msgpack/msgpack';
import { ID_PATTERN, type InferRequest, InferRequestSchema, OVERFLOW_ENTRY_FIELDS } from '@sightline/shared';

/** One stream entry as Redis returns it: its id and its field/value pairs (null when it was deleted meanwhile). */
export interface RawEntry {
  id: string;
  fields: Buffer[] | null;
}

/** A request the worker can run. */
export interface RequestEntry {
  kind: 'request';
  /** Stream entry id (what XACK takes). */
  id: string;
  hub: string;
  edge: string;
  /** Epoch ms the hub queued it. */
  at: number;
  /** Epoch ms after which an answer is useless: `at` + the request's budgetMs (hub and worker clocks). */
  deadline: number;
  req: InferRequest;
}

/** An entry the worker refuses; answered FAILED when it names a hub and an edge. */
export interface MalformedEntry {
  kind: 'malformed';
  id: string;
  reason: string;
  hub?: string;
  edge?: string;
  /** The request's id, when it could be read. */
  reqId?: string;
}

export type ParsedEntry = RequestEntry | MalformedEntry;

/** The model a stream is for, as this worker has it. */
export interface ServedModel {
  /** Manifest id, e.g. "yolox_nano". */
  name: string;
  /** sha256 (hex) of the verified .onnx file. */
  sha256: string;
}

/** Entries of an XREADGROUP reply (one stream): `[[key, [[id, [f, v, ...]], ...]]]` or null. */
export function readReplyEntries(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: RawEntry[] = [];
  for (const stream of reply) {
    if (!Array.isArray(stream) || !Array.isArray(stream[1])) continue;
    for (const e of stream[1] as unknown[]) out.push(rawEntry(e));
  }
  return out;
}

/** Entries and next cursor of an XAUTOCLAIM reply: `[cursor, [[id, fields] | null, ...], deleted?]`. */
export function autoclaimReplyEntries(reply: unknown): { cursor: string; entries: RawEntry[] } {
  if (!Array.isArray(reply)) return { cursor: '0-0', entries: [] };
  const cursor = String(reply[0] ?? '0-0');
  const list = Array.isArray(reply[1]) ? (reply[1] as unknown[]) : [];
  // Redis 6.2 lists deleted entries as nil; 7.0 lists their ids in reply[2] and leaves them out here.
  return { cursor, entries: list.filter((e) => Array.isArray(e)).map(rawEntry) };
}

function rawEntry(e: unknown): RawEntry {
  const [id, fields] = e as [Buffer | string, Buffer[] | null];
  return { id: String(id), fields: Array.isArray(fields) ? fields : null };
}

/** Field name -> value of an entry (the first of repeated names). */
function fieldMap(fields: readonly Buffer[]): Map<string, Buffer> {
  const map = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = String(fields[i]);
    if (!map.has(name)) map.set(name, fields[i + 1]!);
  }
  return map;
}

/** An id-shaped field value, or undefined (so a bad value can never name a Redis key). */
function idField(map: Map<string, Buffer>, name: string): string | undefined {
  const v = map.get(name)?.toString('utf8');
  return v !== undefined && ID_PATTERN.test(v) ? v : undefined;
}

/** The first issue of a zod error as one line, e.g. "frames.0.width: Too big". */
function issueText(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  const i = issues[0];
  if (!i) return 'invalid';
  return `${i.path.map(String).join('.') || '(root)'}: ${i.message}${issues.length > 1 ? ` (+${issues.length - 1} more)` : ''}`;
}

/** Check one entry of `model`'s stream: a runnable request, or why not. */
export function parseEntry(raw: RawEntry, model: ServedModel): ParsedEntry {
  const { id } = raw;
  if (!raw.fields) return { kind: 'malformed', id, reason: 'the entry was deleted before it was read' };
  const F = OVERFLOW_ENTRY_FIELDS;
  const map = fieldMap(raw.fields);
  const hub = idField(map, F.hub);
  const edge = idField(map, F.edge);
  const bad = (reason: string, reqId?: string): MalformedEntry => ({
    kind: 'malformed',
    id,
    reason,
    ...(hub ? { hub } : {}),
    ...(edge ? { edge } : {}),
    ...(reqId ? { reqId } : {}),
  });
  if (!hub || !edge) return bad(`missing or invalid "${!hub ? F.hub : F.edge}" field`);
  const atText = map.get(F.at)?.toString('utf8');
  const at = Number(atText);
  if (atText === undefined || atText.trim() === '' || !Number.isFinite(at)) {
    return bad(`missing or invalid "${F.at}" field`);
  }
  const packed = map.get(F.req);
  if (!packed) return bad(`missing "${F.req}" field`);
  let value: unknown;
  try {
    value = decode(packed);
  } catch (err) {
    return bad(`"${F.req}" is not msgpack: ${(err as Error).message}`);
  }
  const maybeId = (value as { id?: unknown } | null)?.id;
  const reqId = typeof maybeId === 'string' && maybeId.length <= 64 ? maybeId : undefined;
  const parsed = InferRequestSchema.safeParse(value);
  if (!parsed.success) return bad(`not an infer request: ${issueText(parsed.error.issues)}`, reqId);
  const req = parsed.data;
  if (req.model !== model.name) {
    return bad(`model "${req.model}" is not served on the stream of "${model.name}"`, req.id);
  }
  if (req.modelSha256 && req.modelSha256 !== model.sha256) {
    return bad(
      `model ${model.name} differs: the edge's file has sha256 ${req.modelSha256}, this worker's ${model.sha256}`,
      req.id,
    );
  }
  return { kind: 'request', id, hub, edge, at, deadline: at + req.budgetMs, req };
}
