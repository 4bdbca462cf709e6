/** The model catalogue: manifest, labels, verification, downloads and the `models` commands. */
export * from './commands.ts';
export * from './demo-assets.ts';
export * from './fetch.ts';
export * from './labels.ts';
export * from './load.ts';
export * from './manifest.ts';
export * from './progress.ts';
export * from './verify.ts';
