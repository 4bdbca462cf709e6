/** The streams and uplink_acks tables: which batch of each run of a stream the hub has stored. */
import { sql } from 'drizzle-orm';
import type { StoreHandle } from './sql.ts';

/** One uplink batch: `seq` of run `run` of stream `streamId` of edge `edgeId`. */
export interface UplinkBatchKey {
  edgeId: string;
  streamId: string;
  run: string;
  seq: number;
}

/**
 * Records the stream (once) and raises its acked seq to the batch's; returns whether the stream had already
 * acked this seq or a later one.
 */
export async function ackUplinkBatch(h: StoreHandle, b: UplinkBatchKey): Promise<boolean> {
  const res = (await h.db.execute(sql`with s as (
      insert into streams (edge_id, stream_id) values (${b.edgeId}, ${b.streamId}) on conflict do nothing
    ), prev as (
      select last_seq from uplink_acks
      where edge_id = ${b.edgeId} and stream_id = ${b.streamId} and run = ${b.run}
    )
    insert into uplink_acks (edge_id, stream_id, run, last_seq)
    values (${b.edgeId}, ${b.streamId}, ${b.run}, ${b.seq})
    on conflict (edge_id, stream_id, run) do update
      set last_seq = greatest(uplink_acks.last_seq, excluded.last_seq), updated_at = now()
    returning coalesce((select last_seq >= ${b.seq}::bigint from prev), false) as seen`)) as unknown as {
    rows: { seen: boolean }[];
  };
  return res.rows[0]?.seen === true;
}
