/**
 * Make a batch-agnostic ONNX graph dynamic-batch: rewrite the declared first dimension of its image input and of
 * every output to a named dimension ("batch") and drop the intermediate shape annotations (value_info), which
 * ONNX Runtime infers again. It edits the protobuf wire format directly; every other byte (weights, nodes) is
 * copied as it is.
 *
 * This is only correct for graphs whose operators never fold the batch into another dimension with a constant
 * shape (YOLOX's reshapes take their shape from Shape ops, for instance); the catalogue marks such models
 * `batchAgnostic`, and a test proves each one's batched outputs equal its batch-1 outputs.
 */
import type { ExecutionProvider, ModelEntry, TensorSpec } from '@sightline/shared';
import { ModelError } from '@sightline/shared/errors';

/** Name given to the rewritten batch dimension. */
export const BATCH_DIM = 'batch';

const MODEL_GRAPH = 7;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const GRAPH_VALUE_INFO = 13;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_PARAM = 2;

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** One protobuf field: its number, wire type and the bytes of its value (for length-delimited: the payload). */
interface Field {
  no: number;
  wire: number;
  value: Uint8Array;
}

function readVarint(buf: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  throw new RangeError(`truncated varint at byte ${at}`);
}

function readFields(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let at = 0;
  while (at < buf.length) {
    const tag = readVarint(buf, at);
    const no = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    at = tag.next;
    let end: number;
    let start = at;
    if (wire === VARINT) end = readVarint(buf, at).next;
    else if (wire === FIXED64) end = at + 8;
    else if (wire === FIXED32) end = at + 4;
    else if (wire === LENGTH_DELIMITED) {
      const length = readVarint(buf, at);
      start = length.next;
      end = start + length.value;
    } else throw new RangeError(`unsupported wire type ${wire} for field ${no} at byte ${at}`);
    if (no === 0 || end > buf.length) throw new RangeError(`field ${no} at byte ${at} runs past the end`);
    fields.push({ no, wire, value: buf.subarray(start, end) });
    at = end;
  }
  return fields;
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function writeFields(fields: readonly Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const f of fields) {
    const head = varint(f.no * 8 + f.wire);
    if (f.wire === LENGTH_DELIMITED) head.push(...varint(f.value.length));
    const headBytes = Uint8Array.from(head);
    parts.push(headBytes, f.value);
    total += headBytes.length + f.value.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Replace the length-delimited fields numbered `no` with what `edit` makes of their payload. */
function editFields(buf: Uint8Array, no: number, edit: (payload: Uint8Array) => Uint8Array): Uint8Array {
  return writeFields(
    readFields(buf).map((f) =>
      f.no === no && f.wire === LENGTH_DELIMITED ? { ...f, value: edit(f.value) } : f,
    ),
  );
}

/** TensorShapeProto with its first dimension replaced by the named batch dimension. */
function batchFirstDim(shape: Uint8Array): Uint8Array {
  const fields = readFields(shape);
  const first = fields.findIndex((f) => f.no === SHAPE_DIM);
  if (first < 0) return shape;
  const dim = writeFields([
    { no: DIM_PARAM, wire: LENGTH_DELIMITED, value: new TextEncoder().encode(BATCH_DIM) },
  ]);
  fields[first] = { no: SHAPE_DIM, wire: LENGTH_DELIMITED, value: dim };
  return writeFields(fields);
}

function batchValueInfo(info: Uint8Array): Uint8Array {
  return editFields(info, VALUE_INFO_TYPE, (type) =>
    editFields(type, TYPE_TENSOR, (tensor) => editFields(tensor, TENSOR_SHAPE, batchFirstDim)),
  );
}

function valueInfoName(info: Uint8Array): string | undefined {
  const name = readFields(info).find((f) => f.no === VALUE_INFO_NAME);
  return name ? new TextDecoder().decode(name.value) : undefined;
}

function rewriteGraph(graph: Uint8Array, inputName: string): { graph: Uint8Array; foundInput: boolean } {
  let foundInput = false;
  const fields: Field[] = [];
  for (const f of readFields(graph)) {
    if (f.no === GRAPH_VALUE_INFO) continue;
    if (f.no === GRAPH_INPUT && valueInfoName(f.value) === inputName) {
      foundInput = true;
      fields.push({ ...f, value: batchValueInfo(f.value) });
    } else if (f.no === GRAPH_OUTPUT) {
      fields.push({ ...f, value: batchValueInfo(f.value) });
    } else fields.push(f);
  }
  return { graph: writeFields(fields), foundInput };
}

/**
 * The model with a dynamic first dimension on input `inputName` and on every output. Throws ModelError
 * MODEL_INVALID when the bytes are not an ONNX model or it has no such input.
 */
export function makeBatchDynamic(model: Uint8Array, inputName: string): Uint8Array {
  let foundGraph = false;
  let foundInput = false;
  let out: Uint8Array;
  try {
    out = editFields(model, MODEL_GRAPH, (graph) => {
      foundGraph = true;
      const rewritten = rewriteGraph(graph, inputName);
      foundInput = rewritten.foundInput;
      return rewritten.graph;
    });
  } catch (err) {
    throw new ModelError(
      'MODEL_INVALID',
      `Cannot make the batch dynamic: not an ONNX model (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
  if (!foundGraph)
    throw new ModelError('MODEL_INVALID', 'Cannot make the batch dynamic: the model has no graph');
  if (!foundInput) {
    throw new ModelError(
      'MODEL_INVALID',
      `Cannot make the batch dynamic: the graph has no input named ${inputName}`,
    );
  }
  return out;
}

/** Largest batch a batch-agnostic model is run with once its batch is dynamic (as `inference.batchSize`'s bound). */
export const MAX_DYNAMIC_BATCH = 64;

/** True when `entry` is a batch-agnostic model already turned dynamic (its session needs the rewritten graph). */
export function needsBatchRewrite(entry: Pick<ModelEntry, 'batchAgnostic' | 'input'>): boolean {
  return entry.batchAgnostic === true && entry.input.shape[0] === -1;
}

/** `entry` as a dynamic-batch model (input and outputs batch -1, maxBatch 64) when it is batchAgnostic; else itself. */
export function asDynamicBatch(entry: ModelEntry): ModelEntry {
  if (!entry.batchAgnostic || entry.input.shape[0] === -1) return entry;
  const dynamic = (t: TensorSpec): TensorSpec => ({ ...t, shape: [-1, ...t.shape.slice(1)] });
  return {
    ...entry,
    input: dynamic(entry.input),
    outputs: entry.outputs.map(dynamic),
    maxBatch: MAX_DYNAMIC_BATCH,
  };
}

/**
 * The entry to start a backend with. A batch-agnostic model runs batched when the configuration or a stored tuning
 * sets `batchSize` above 1, or, when neither sets it, when the first provider is a GPU one (cuda, tensorrt): on the
 * CPU a batch costs more per image than single images (docs/benchmarks.md). Other models are returned as they are.
 */
export function batchedEntry(
  entry: ModelEntry,
  inference: { batchSize?: number; providers?: readonly ExecutionProvider[] } | undefined,
): ModelEntry {
  if (!entry.batchAgnostic) return entry;
  const batchSize = inference?.batchSize;
  const provider = inference?.providers?.[0] ?? 'cpu';
  const batched = batchSize !== undefined ? batchSize > 1 : provider !== 'cpu';
  return batched ? asDynamicBatch(entry) : entry;
}
