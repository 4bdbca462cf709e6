'use strict';
// Loads the built addon from package.json "binary".module_path (lib/binding/{node_abi}-{platform}-{arch}) through
// @mapbox/node-pre-gyp's find, falling back to the node-gyp build folder. Throws when it is not built: callers
// (edge/src/native/index.ts) catch that and use the TypeScript kernels.
const path = require('node:path');

function bindingPath() {
  try {
    const { find } = require('@mapbox/node-pre-gyp');
    return find(path.join(__dirname, 'package.json'));
  } catch {
    return path.join(__dirname, 'build', 'Release', 'sightline_native.node');
  }
}

module.exports = require(bindingPath());
