/** A readable table of MOT metrics in the MOT devkit's layout (rates in percent, counts as integers). */
import type { MotMetrics } from './mot-accumulator.ts';

const pct = (v: number) => (Number.isFinite(v) ? (v * 100).toFixed(1) : '-');
const int = (v: number) => String(v);

/**
 * Two aligned rows (IDF1 IDP IDR Rcll Prcn GT MT PT ML FP FN IDs FM MOTA MOTP) and a line of totals.
 * MOTP is printed as the devkit's mean IoU of the matches in percent; the totals line gives py-motmetrics'
 * distance form (1 - IoU).
 */
export function formatMotMetrics(m: MotMetrics): string {
  const columns: [string, string][] = [
    ['IDF1', pct(m.idf1)],
    ['IDP', pct(m.idp)],
    ['IDR', pct(m.idr)],
    ['Rcll', pct(m.recall)],
    ['Prcn', pct(m.precision)],
    ['GT', int(m.gtIds)],
    ['MT', int(m.mt)],
    ['PT', int(m.pt)],
    ['ML', int(m.ml)],
    ['FP', int(m.fp)],
    ['FN', int(m.fn)],
    ['IDs', int(m.idsw)],
    ['FM', int(m.frag)],
    ['MOTA', pct(m.mota)],
    ['MOTP', pct(1 - m.motp)],
  ];
  const widths = columns.map(([h, v]) => Math.max(h.length, v.length));
  const row = (pick: 0 | 1) => columns.map((c, i) => c[pick].padStart(widths[i] as number)).join('  ');
  const motp = Number.isFinite(m.motp) ? m.motp.toFixed(4) : '-';
  return [
    row(0),
    row(1),
    `frames ${m.numFrames}, gt boxes ${m.numObjects}, hypothesis boxes ${m.numPredictions} (${m.hypIds} ids), ` +
      `matched ${m.numDetections}; MOTP as distance (1 - IoU) ${motp}`,
    '',
  ].join('\n');
}
