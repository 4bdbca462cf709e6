/**
 * kill -9 of each process at a seeded random point of a live run, with the real processes (fleet.ts): the hub (on
 * PGlite and on PostgreSQL), the edge, and PostgreSQL itself (`pg_ctl stop -m immediate`). After recovery every
 * point the edge witnessed is stored exactly once; only an edge kill may lose points, and only those of the frame
 * in flight. No process needs a manual restart other than the one killed. Figures go to the faults report.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compare, Fleet, faultSeeds, report, seeded, sleep } from './fleet.ts';
import { privatePostgresSkip } from './private-postgres.ts';

const pgSkip = privatePostgresSkip();
const seeds = faultSeeds();

/** Starts an edge on `fleet`, waits for its first acks, then sleeps a seeded 1..7 s; returns the sleep. */
async function runUntilFault(fleet: Fleet, rng: () => number): Promise<number> {
  fleet.startEdge();
  await fleet.edgeUp();
  await fleet.recovery(); // the first acks: the uplink works
  const at = Math.round(1000 + rng() * 6000);
  await sleep(at);
  return at;
}

function assertExact(figures: ReturnType<typeof compare>, what: string): void {
  const { figures: f, unexplained } = figures;
  assert.ok(f.produced > 100, `${what}: the edge produced ${f.produced} points (too few to test anything)`);
  assert.equal(f.duplicated, 0, `${what}: ${f.duplicated} points stored twice`);
  assert.deepEqual(
    unexplained.slice(0, 10),
    [],
    `${what}: ${unexplained.length} witnessed points not stored`,
  );
}

for (const backend of ['pglite', 'postgres'] as const) {
  describe(`kill -9 of the hub (${backend})`, {
    skip: backend === 'postgres' && pgSkip,
    timeout: 600_000,
  }, () => {
    for (const seed of seeds) {
      test(`seed ${seed}: the hub killed mid-run and restarted: every witnessed point stored once`, async () => {
        const rng = seeded(seed);
        const fleet = await Fleet.create({ backend, edgeId: `edge-hubkill-${seed}` });
        try {
          const faultAtMs = await runUntilFault(fleet, rng);
          await fleet.hub.kill9();
          await sleep(Math.round(500 + rng() * 3000));
          await fleet.startHub();
          const recoveryMs = await fleet.recovery();
          await fleet.drain();
          await fleet.edge.stop();
          await fleet.hub.stop();
          const result = compare(fleet.witnessed().points, await fleet.stored());
          report({ scenario: 'hub kill -9', backend, seed, faultAtMs, recoveryMs, ...result.figures });
          assertExact(result, 'hub kill -9');
        } finally {
          await fleet.dispose();
        }
      });
    }
  });
}

describe('kill -9 of the edge (pglite)', { timeout: 600_000 }, () => {
  for (const seed of seeds) {
    test(`seed ${seed}: the edge killed mid-run and restarted: only the frame in flight may be lost`, async () => {
      const rng = seeded(seed + 100);
      const fleet = await Fleet.create({ backend: 'pglite', edgeId: `edge-edgekill-${seed}` });
      try {
        const faultAtMs = await runUntilFault(fleet, rng);
        await fleet.edge.kill9();
        const killed = fleet.witnessed();
        await sleep(Math.round(500 + rng() * 2000));
        fleet.startEdge();
        await fleet.edgeUp();
        const recoveryMs = await fleet.recovery();
        await fleet.drain();
        await fleet.edge.stop();
        await fleet.hub.stop();
        // The crash window: the last frame each stream witnessed before the kill (its line may be written while
        // its points were not yet in the outbox).
        const inFlight = (key: string) => {
          const [stream, , ts] = key.split('|');
          return killed.points.has(key) && Number(ts) >= (killed.lastTs.get(stream!) ?? 0);
        };
        const result = compare(fleet.witnessed().points, await fleet.stored(), inFlight);
        report({
          scenario: 'edge kill -9',
          backend: 'pglite',
          seed,
          faultAtMs,
          recoveryMs,
          ...result.figures,
        });
        assertExact(result, 'edge kill -9');
      } finally {
        await fleet.dispose();
      }
    });
  }
});

describe('PostgreSQL crash (stop -m immediate)', { skip: pgSkip, timeout: 600_000 }, () => {
  for (const seed of seeds) {
    test(`seed ${seed}: the database crashes mid-run and restarts: every witnessed point stored once`, async () => {
      const rng = seeded(seed + 200);
      const fleet = await Fleet.create({ backend: 'postgres', edgeId: `edge-pgcrash-${seed}` });
      try {
        const faultAtMs = await runUntilFault(fleet, rng);
        fleet.pg!.crash();
        await sleep(Math.round(1000 + rng() * 5000));
        fleet.pg!.start();
        const recoveryMs = await fleet.recovery();
        assert.ok(fleet.hub.running, 'the hub outlived its database');
        await fleet.drain();
        await fleet.edge.stop();
        await fleet.hub.stop();
        const result = compare(fleet.witnessed().points, await fleet.stored());
        report({
          scenario: 'PostgreSQL crash',
          backend: 'postgres',
          seed,
          faultAtMs,
          recoveryMs,
          ...result.figures,
        });
        assertExact(result, 'PostgreSQL crash');
      } finally {
        await fleet.dispose();
      }
    });
  }
});
