/** MOTChallenge text format (frame,id,x,y,w,h,conf,...; 1-based frames, top-left + size): parse and format lines. */
import { readFile } from 'node:fs/promises';
import { type Box, FormatError } from '@sightline/shared';

/** One line of a MOTChallenge det.txt / gt.txt / result file. */
export interface MotRecord {
  /** 1-based frame number. */
  frame: number;
  /** Track / identity id; -1 for detections. */
  id: number;
  /** Left, top, width, height in pixels. */
  x: number;
  y: number;
  w: number;
  h: number;
  /** Detection score, or the "consider" flag (0/1) in MOT16/17 gt. 1 when the line has only 6 columns. */
  conf: number;
  /** Columns after the seventh, as numbers (world x,y,z in MOT15; class, visibility in MOT16/17 gt). */
  extra: number[];
}

/** Columns a line must have at least (frame,id,x,y,w,h). */
const MIN_COLUMNS = 6;
/** Columns a line may have at most (MOT15 uses 10). */
const MAX_COLUMNS = 10;

/**
 * Parse MOTChallenge text. Blank lines are skipped; fields are separated by commas (spaces around them allowed).
 * Throws FormatError (FORMAT_INVALID) naming `source` and the 1-based line number for a wrong column count,
 * a non-numeric field, a frame that is not a positive integer, an id that is not an integer, or a negative size.
 */
export function parseMot(text: string, source = 'MOT text'): MotRecord[] {
  if (typeof text !== 'string') {
    throw new TypeError(`Expected a string for text but received ${typeof text}`);
  }
  const out: MotRecord[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${source}:${index + 1}`;
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length < MIN_COLUMNS || fields.length > MAX_COLUMNS) {
      throw new FormatError(
        `${where}: expected ${MIN_COLUMNS} to ${MAX_COLUMNS} comma-separated numbers but found ${fields.length} in "${clip(line)}"`,
      );
    }
    const nums = fields.map((f, col) => {
      const v = f === '' ? Number.NaN : Number(f);
      if (!Number.isFinite(v)) {
        throw new FormatError(`${where}: column ${col + 1} is "${clip(f)}", not a finite number`);
      }
      return v;
    });
    const [frame, id, x, y, w, h] = nums as [number, number, number, number, number, number];
    if (!Number.isInteger(frame) || frame < 1) {
      throw new FormatError(`${where}: frame must be a positive integer (1-based) but is ${frame}`);
    }
    if (!Number.isInteger(id)) throw new FormatError(`${where}: id must be an integer but is ${id}`);
    if (w < 0 || h < 0)
      throw new FormatError(`${where}: width and height must not be negative (${w} x ${h})`);
    out.push({ frame, id, x, y, w, h, conf: nums[6] ?? 1, extra: nums.slice(7) });
  });
  return out;
}

/** Read and parse a MOTChallenge file; a read failure is a FormatError naming the path. */
export async function readMotFile(path: string): Promise<MotRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new FormatError(`Cannot read MOT file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseMot(text, path);
}

/** Group records by frame number (frames in ascending order). */
export function groupByFrame(records: readonly MotRecord[]): Map<number, MotRecord[]> {
  const byFrame = new Map<number, MotRecord[]>();
  for (const r of [...records].sort((a, b) => a.frame - b.frame)) {
    const list = byFrame.get(r.frame);
    if (list) list.push(r);
    else byFrame.set(r.frame, [r]);
  }
  return byFrame;
}

/** The [x1, y1, x2, y2] box of a record. */
export function motBox(r: MotRecord): Box {
  return [r.x, r.y, r.x + r.w, r.y + r.h];
}

/** One result line `frame,id,x,y,w,h,conf,-1,-1,-1` from an [x1, y1, x2, y2] box, 2 decimals (no newline). */
export function formatMotLine(frame: number, id: number, box: Box, conf: number): string {
  const f2 = (v: number) => v.toFixed(2);
  return `${frame},${id},${f2(box[0])},${f2(box[1])},${f2(box[2] - box[0])},${f2(box[3] - box[1])},${f2(conf)},-1,-1,-1`;
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
