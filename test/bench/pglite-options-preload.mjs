// Preload for the ingest benchmark's hub children (node --import): merges the JSON in
// SIGHTLINE_BENCH_PGLITE_OPTIONS into every PGlite.create(...) call's options, to measure PGlite settings
// (e.g. {"postgresqlconf":["shared_buffers=16MB"]} or {"initialMemory":67108864}) without changing the hub.
import { PGlite } from '@electric-sql/pglite';

const extra = JSON.parse(process.env.SIGHTLINE_BENCH_PGLITE_OPTIONS || '{}');
const create = PGlite.create;
PGlite.create = function (dataDirOrOptions, options) {
  if (typeof dataDirOrOptions === 'string')
    return create.call(this, dataDirOrOptions, { ...options, ...extra });
  return create.call(this, { ...dataDirOrOptions, ...extra });
};
