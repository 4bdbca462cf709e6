#!/usr/bin/env node
'use strict';
// Install step of @sightline/native (package.json "scripts.install"). Never needs the network and never fails the
// install: @sightline/edge falls back to its TypeScript kernels when the addon is missing.
//
//   default                          build from source: `node-pre-gyp rebuild` (node-gyp against local Node headers;
//                                    npm's `nodedir` config points node-gyp at them, so no header download)
//   SIGHTLINE_NATIVE_PREBUILT=1      first try a prebuilt binary from package.json binary.host
//                                    (`node-pre-gyp install --fallback-to-build`: downloads, then builds on a miss)
//   SIGHTLINE_NATIVE_SKIP_BUILD=1    build nothing (the TypeScript kernels are used)
//   SIGHTLINE_NATIVE_BUILD_TIMEOUT   seconds before the build is abandoned (default 600)
//
// Any failure (no compiler, no headers, no network for a prebuilt) prints one warning and exits 0.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const flag = (name) => /^(1|true|yes)$/i.test(process.env[name] ?? '');

function warn(msg) {
  console.warn(`@sightline/native: ${msg}; Sightline will use its TypeScript kernels (see docs/native.md).`);
}

if (flag('SIGHTLINE_NATIVE_SKIP_BUILD')) {
  console.log('@sightline/native: SIGHTLINE_NATIVE_SKIP_BUILD is set, not building the addon');
  process.exit(0);
}

let bin;
try {
  bin = require.resolve('@mapbox/node-pre-gyp/bin/node-pre-gyp', { paths: [root] });
} catch {
  warn('@mapbox/node-pre-gyp is not installed, not building the native addon');
  process.exit(0);
}

const args = flag('SIGHTLINE_NATIVE_PREBUILT') ? ['install', '--fallback-to-build'] : ['rebuild'];
const timeoutS =
  Number(process.env.SIGHTLINE_NATIVE_BUILD_TIMEOUT) > 0
    ? Number(process.env.SIGHTLINE_NATIVE_BUILD_TIMEOUT)
    : 600;
// node-gyp needs Node's headers: npm passes its `nodedir` config as npm_config_nodedir; otherwise use the headers
// installed beside this node (e.g. /usr/include/node) so node-gyp never tries to download them.
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
}
const started = Date.now();
const result = spawnSync(process.execPath, [bin, ...args, '--loglevel=warn'], {
  cwd: root,
  env,
  stdio: 'inherit',
  timeout: timeoutS * 1000,
  killSignal: 'SIGKILL',
});
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (result.error || result.status !== 0) {
  const why = result.error
    ? result.error.code === 'ETIMEDOUT'
      ? `the build took longer than ${timeoutS} s`
      : result.error.message
    : `node-pre-gyp ${args[0]} exited with ${result.status ?? result.signal}`;
  warn(`could not build the native addon (${why}; a C++17 compiler, make and python3 are needed)`);
  process.exit(0);
}
try {
  require(root);
  console.log(`@sightline/native: built the native addon in ${seconds} s`);
} catch (err) {
  warn(`the native addon was built but does not load (${err.message})`);
}
process.exit(0);
