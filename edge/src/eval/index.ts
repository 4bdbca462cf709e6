/** Evaluation: CLEAR MOT and identity metrics (py-motmetrics compatible) and running a tracker on MOT files. */
export * from './evaluate-mot.ts';
export * from './mot-accumulator.ts';
export * from './mot-table.ts';
export * from './track-mot.ts';
