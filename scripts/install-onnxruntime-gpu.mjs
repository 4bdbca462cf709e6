#!/usr/bin/env node
// Fetches ONNX Runtime's CUDA execution provider (which also serves TensorRT) into the installed onnxruntime-node,
// on a GPU box with the internet. A default install skips this step: package.json's allowScripts denies
// onnxruntime-node's postinstall, which would download it and fails offline.
//
//   npm run gpu:install                                  # CUDA 12 provider (ONNXRUNTIME_NODE_INSTALL=cuda12)
//   ONNXRUNTIME_NODE_INSTALL=<flag> npm run gpu:install  # any value onnxruntime-node's installer accepts
//   node scripts/install-onnxruntime-gpu.mjs --print     # only print the installer it would run
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(join(root, 'edge', 'package.json'));
let dir;
try {
  dir = dirname(require.resolve('onnxruntime-node/package.json'));
} catch {
  process.stderr.write('install-onnxruntime-gpu: onnxruntime-node is not installed: run npm install first\n');
  process.exit(1);
}
const installer = join(dir, 'script', 'install.js');
if (process.argv.includes('--print')) {
  process.stdout.write(`${installer}\n`);
  process.exit(0);
}
const flag = process.env.ONNXRUNTIME_NODE_INSTALL || 'cuda12';
process.stderr.write(`install-onnxruntime-gpu: running ${installer} with ONNXRUNTIME_NODE_INSTALL=${flag}\n`);
const r = spawnSync(process.execPath, [installer], {
  cwd: dir,
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: flag },
});
process.exit(r.status ?? 1);
