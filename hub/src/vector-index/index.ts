/** The hub's embedding index: one usearch HNSW index per embedding model, plus exact search for checks. */
export {
  EmbeddingIndex,
  type EmbeddingIndexOptions,
  INDEX_DEFAULTS,
  type IndexEntry,
  type IndexMatch,
  type KeyFilter,
  type OpenOutcome,
  type RebuildSource,
} from './embedding-index.ts';
export { type ExactMatches, type ExactSearchOptions, exactSearch } from './exact-search.ts';
export { type ClusterData, type ClusterOptions, gaussian, identityClusters } from './synthetic.ts';
