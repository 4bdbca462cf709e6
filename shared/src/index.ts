/** @sightline/shared: wire schemas, types, config, errors, events, logging and clocks used by every package. */
export * from './cluster.ts';
export * from './config.ts';
export * from './decoder.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './health.ts';
export * from './ids.ts';
export * from './logger.ts';
export * from './model-spec.ts';
export * from './overflow.ts';
export * from './signalling.ts';
export * from './stages-config.ts';
export * from './time.ts';
export * from './types.ts';
export * from './uplink.ts';
