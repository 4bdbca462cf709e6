/**
 * Network faults on the two links of a live run (fleet.ts), each at a seeded random point: the edge -> hub uplink
 * cut, stalled past the edge's silence timeout, and slowed to a crawl; the hub -> PostgreSQL link stalled, and cut
 * in the middle of a batch's transaction. After each, with no restart of anything, every point the edge witnessed
 * is stored exactly once. Figures go to the faults report.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compare, Fleet, faultSeeds, report, seeded, sleep } from './fleet.ts';
import { privatePostgresSkip } from './private-postgres.ts';

const pgSkip = privatePostgresSkip();
const seed = faultSeeds()[0]!;

/** Runs `fault` at a seeded point of a live run, then checks exactly-once delivery; returns nothing. */
async function scenario(
  name: string,
  backend: 'pglite' | 'postgres',
  fault: (fleet: Fleet, rng: () => number) => Promise<void>,
): Promise<void> {
  const rng = seeded(seed + name.length * 1000);
  const fleet = await Fleet.create({ backend, edgeId: `edge-link-${name.replace(/[^a-z0-9]+/gi, '-')}` });
  try {
    fleet.startEdge();
    await fleet.edgeUp();
    await fleet.recovery();
    const faultAtMs = Math.round(1000 + rng() * 4000);
    await sleep(faultAtMs);
    await fault(fleet, rng);
    const recoveryMs = await fleet.recovery();
    assert.ok(fleet.hub.running && fleet.edge.running, 'hub and edge outlived the fault');
    await fleet.drain();
    await fleet.edge.stop();
    await fleet.hub.stop();
    const { figures, unexplained } = compare(fleet.witnessed().points, await fleet.stored());
    report({ scenario: name, backend, seed, faultAtMs, recoveryMs, ...figures });
    assert.ok(figures.produced > 100, `the edge produced ${figures.produced} points`);
    assert.equal(figures.duplicated, 0, `${figures.duplicated} points stored twice`);
    assert.deepEqual(unexplained.slice(0, 10), [], `${unexplained.length} witnessed points not stored`);
  } finally {
    await fleet.dispose();
  }
}

describe('uplink faults (edge -> hub)', { timeout: 600_000 }, () => {
  test('cut for a few seconds: the edge reconnects and replays its outbox', () =>
    scenario('uplink cut', 'pglite', async (fleet, rng) => {
      await fleet.uplink.cut();
      await sleep(Math.round(2000 + rng() * 6000));
      await fleet.uplink.restore();
    }));

  test('stalled for 20 s (no bytes either way, no reset): the edge notices the silence and reconnects', () =>
    scenario('uplink stall 20 s', 'pglite', async (fleet) => {
      fleet.uplink.stall();
      await sleep(20_000);
      fleet.uplink.resume();
    }));

  test('slowed to 300 ms latency and 20 kB/s for 10 s', () =>
    scenario('uplink slow', 'pglite', async (fleet) => {
      fleet.uplink.shape({ delayMs: 300, bytesPerSecond: 20_000 });
      await sleep(10_000);
      fleet.uplink.shape({ delayMs: 0, bytesPerSecond: 0 });
    }));
});

describe('database link faults (hub -> PostgreSQL)', { skip: pgSkip, timeout: 600_000 }, () => {
  test('stalled for 8 s: batches wait, then land', () =>
    scenario('database link stall 8 s', 'postgres', async (fleet) => {
      fleet.dbLink!.stall();
      await sleep(8000);
      fleet.dbLink!.resume();
    }));

  test('cut inside a batch transaction (after BEGIN, at the insert of its points), restored 3 s later', () =>
    scenario('database link cut mid-transaction', 'postgres', async (fleet) => {
      let inTransaction = false;
      const cutDone = new Promise<void>((done) => {
        fleet.onDbChunk = (chunk, direction) => {
          if (direction !== 'up') return;
          const text = chunk.toString('latin1');
          if (/\bbegin\b/i.test(text)) inTransaction = true;
          if (inTransaction && /insert into "?track_points"?/i.test(text)) {
            fleet.onDbChunk = undefined;
            void fleet.dbLink!.cut().then(done);
          }
        };
      });
      await Promise.race([
        cutDone,
        sleep(15_000).then(() => assert.fail('no batch transaction within 15 s')),
      ]);
      await sleep(3000);
      await fleet.dbLink!.restore();
    }));
});
