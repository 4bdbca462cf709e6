/** `sightline eval mot`: CLEAR MOT and identity metrics of tracker results against MOTChallenge ground truth. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createTracker,
  evaluateMot,
  formatMotLine,
  formatMotMetrics,
  type MotRecord,
  motBox,
  readMotFile,
  trackMotDetections,
} from '@sightline/edge';
import { SinkError, TrackerConfig } from '@sightline/shared';
import { UsageError } from '../usage-error.ts';

const TRACKER_TYPES = TrackerConfig.options.map((o) => o.shape.type.value);

export const EVAL_USAGE = `Usage: sightline eval mot --gt <gt.txt> (--hyp <results.txt> | --det <det.txt> [--tracker type]) [options]

Scores tracks against MOTChallenge ground truth: MOTA, MOTP, IDF1, IDP, IDR, recall, precision, MT/PT/ML,
FP, FN, ID switches and fragmentations, computed as py-motmetrics does (IoU matching, match continuity).

  --gt <file>           ground truth, MOTChallenge text (frame,id,x,y,w,h,conf,...); lines whose 7th
                        column is 0 (the MOT16/17 "consider" flag) are ignored
  --hyp <file>          tracker results to score, MOTChallenge text
  --det <file>          detections (score in column 7) to run a tracker on, then score its tracks
  --tracker <type>      tracker for --det, with its default settings: ${TRACKER_TYPES.join(' | ')} (default bytetrack)
  --out <file>          (--det) write the tracker's results as MOTChallenge text
  --iou <x>             minimum IoU for a match (default 0.5)
  --json                print one JSON object (rates as fractions, MOTP as 1 - IoU) instead of the table

The table prints rates in percent and MOTP as the mean IoU of the matches, like the MOT devkit.
`;

/** Run `sightline eval <sub>`; returns the exit code. */
export async function runEval(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'mot') {
    process.stderr.write(EVAL_USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      gt: { type: 'string' },
      hyp: { type: 'string' },
      det: { type: 'string' },
      tracker: { type: 'string' },
      out: { type: 'string' },
      iou: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.gt) throw new UsageError('eval mot needs --gt <file>', 'eval');
  if (!values.hyp === !values.det) throw new UsageError('eval mot needs one of --hyp or --det', 'eval');
  if (values.hyp && (values.tracker || values.out)) {
    throw new UsageError('--tracker and --out go with --det, not --hyp', 'eval');
  }
  const iouThreshold = values.iou === undefined ? 0.5 : Number(values.iou);
  if (!(iouThreshold > 0 && iouThreshold <= 1)) {
    throw new UsageError(`--iou expects a number in (0, 1], got "${values.iou}"`, 'eval');
  }
  const trackerConfig = values.det ? parseTracker(values.tracker ?? 'bytetrack') : undefined;

  const gt = await readMotFile(values.gt);
  let hyp: MotRecord[];
  let label: string;
  if (values.det && trackerConfig) {
    const tracker = createTracker(trackerConfig);
    const lastFrame = gt.reduce((m, r) => Math.max(m, r.frame), 0);
    hyp = trackMotDetections(tracker, await readMotFile(values.det), { lastFrame });
    label = `${trackerConfig.type} on ${values.det}`;
    if (values.out) await writeResults(values.out, hyp);
  } else {
    hyp = await readMotFile(values.hyp as string);
    label = values.hyp as string;
  }

  const result = evaluateMot(gt, hyp, { iouThreshold });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const ignored = result.ignoredGt ? `; ${result.ignoredGt} gt lines flagged 0 ignored` : '';
  process.stdout.write(`${label} vs ${values.gt} (IoU >= ${iouThreshold}${ignored})\n\n`);
  process.stdout.write(formatMotMetrics(result));
  return 0;
}

/** The default config of a tracker type (schema defaults applied), or a usage error naming the known types. */
function parseTracker(type: string): TrackerConfig {
  const parsed = TrackerConfig.safeParse({ type });
  if (!parsed.success) {
    throw new UsageError(`--tracker: unknown tracker "${type}" (${TRACKER_TYPES.join(', ')})`, 'eval');
  }
  return parsed.data;
}

/** Write records as MOTChallenge result lines (2 decimals), creating the folder. */
async function writeResults(path: string, records: readonly MotRecord[]): Promise<void> {
  const text = records.map((r) => `${formatMotLine(r.frame, r.id, motBox(r), r.conf)}\n`).join('');
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  } catch (err) {
    throw new SinkError(`Cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
