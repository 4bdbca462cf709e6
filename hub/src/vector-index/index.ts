/**
 * The hub's vector indexes: one usearch HNSW index per embedding model (`EmbeddingIndex`), the registry that opens,
 * saves and rebuilds them from the store (`IndexRegistry`), and exact search for checks.
 */
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
export { checkModelId, IndexRegistry, type IndexRegistryOptions } from './index-registry.ts';
