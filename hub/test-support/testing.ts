/**
 * `@sightline/hub/testing`: test and benchmark support, kept out of the hub's build. The store backends every
 * store-backed suite runs on, a redis-server of a test's own, and synthetic data: uplink batches and re-ID-like
 * identity clusters.
 */
export { agedTrackPoint, PG_URL, type TestBackend, type TestLocation, testBackends } from './backends.ts';
export { freePort, PrivateRedis } from './private-redis.ts';
export {
  fakeJpeg,
  prng,
  type SyntheticBatchOptions,
  sha256Hex,
  syntheticBatch,
  vectorBytes,
} from './synthetic-batch.ts';
export { type ClusterData, type ClusterOptions, gaussian, identityClusters } from './synthetic-clusters.ts';
