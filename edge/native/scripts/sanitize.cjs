#!/usr/bin/env node
'use strict';
// `npm run test:native-sanitize`: build the addon with AddressSanitizer and UndefinedBehaviorSanitizer into
// edge/native/build-sanitize (the normal lib/binding/... binary and build/ are untouched), then run the native kernel
// tests (edge/src/native/*.test.ts) against that build: the loader takes it from SIGHTLINE_NATIVE_PATH, and the
// ASan runtime is preloaded into node (it must come first; node itself is not instrumented). ASan leak checking is
// off: V8 keeps memory until exit by design. Any sanitizer report aborts the test process, which fails the run.
//   SIGHTLINE_SANITIZE_SKIP_BUILD=1  reuse the last sanitizer build
//   extra arguments                 test file filters for scripts/run-tests.mjs (default: edge/src/native/)
// Needs g++ (or clang) with libasan/libubsan, make, python3 and Node's headers (as the normal build). Linux only.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const native = path.resolve(__dirname, '..');
const repo = path.resolve(native, '..', '..');
const stage = path.join(native, 'build-sanitize');
const addon = path.join(stage, 'lib', 'sightline_native.node');
// float-cast-overflow: not part of GCC's -fsanitize=undefined, and the kernels cast doubles to integers.
const SAN =
  '-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all';

function fail(msg) {
  console.error(`test:native-sanitize: ${msg}`);
  process.exit(1);
}

function run(cmd, args, options) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.error) fail(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r.status ?? 1;
}

/** npm's node-gyp: npm_config_node_gyp under npm, else the one bundled with the npm beside this node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return c;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [native] });
  } catch {
    return fail('node-gyp not found (it comes with npm; or set npm_config_node_gyp)');
  }
}

function build() {
  fs.mkdirSync(stage, { recursive: true });
  // The same binding.gyp, its sources one folder up: node-gyp always builds into <cwd>/build.
  const gyp = fs.readFileSync(path.join(native, 'binding.gyp'), 'utf8').replace(/"src\//g, '"../src/');
  fs.writeFileSync(path.join(stage, 'binding.gyp'), gyp);
  const env = { ...process.env };
  // The sanitizer flags come after binding.gyp's (make appends CXXFLAGS/LDFLAGS): -O1 -g for readable reports.
  env.CXXFLAGS = `${env.CXXFLAGS ?? ''} ${SAN} -O1 -g`.trim();
  env.LDFLAGS = `${env.LDFLAGS ?? ''} ${SAN}`.trim();
  if (!env.npm_config_nodedir) {
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
  }
  const started = Date.now();
  const status = run(
    process.execPath,
    [
      nodeGyp(),
      'rebuild',
      '--loglevel=warn',
      '--module_name=sightline_native',
      `--module_path=${path.join(stage, 'lib')}`,
    ],
    { cwd: stage, env },
  );
  if (status !== 0 || !fs.existsSync(addon)) fail(`the sanitizer build failed (node-gyp exited ${status})`);
  console.log(
    `test:native-sanitize: built ${path.relative(repo, addon)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

function runtime(name) {
  const r = spawnSync(process.env.CXX || 'g++', [`-print-file-name=${name}`], { encoding: 'utf8' });
  const file = r.stdout?.trim();
  if (!file || !path.isAbsolute(file) || !fs.existsSync(file))
    fail(`${name} not found (g++ -print-file-name)`);
  return file;
}

if (!/^(1|true|yes)$/i.test(process.env.SIGHTLINE_SANITIZE_SKIP_BUILD ?? '')) build();
else if (!fs.existsSync(addon)) fail(`no sanitizer build at ${addon}`);

const env = {
  ...process.env,
  LD_PRELOAD: [runtime('libasan.so'), process.env.LD_PRELOAD].filter(Boolean).join(':'),
  ASAN_OPTIONS: `detect_leaks=0:abort_on_error=1:${process.env.ASAN_OPTIONS ?? ''}`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:${process.env.UBSAN_OPTIONS ?? ''}`,
  SIGHTLINE_NATIVE_PATH: addon,
};
delete env.SIGHTLINE_NATIVE;
// The tests skip the native comparisons when the addon does not load: make sure this one does, first.
const check = spawnSync(
  process.execPath,
  [
    '--conditions=sightline-source',
    '--import',
    'tsx',
    '-e',
    "import('./edge/src/native/index.ts').then((m) => { console.log(m.kernelsDescription); process.exit(m.nativeKernels ? 0 : 1); })",
  ],
  { cwd: repo, env, encoding: 'utf8' },
);
process.stdout.write(check.stdout ?? '');
if (check.status !== 0) fail(`the sanitizer build does not load under ASan:\n${check.stderr}`);
const filters = process.argv.slice(2);
process.exit(
  run(
    process.execPath,
    [path.join(repo, 'scripts', 'run-tests.mjs'), ...(filters.length ? filters : ['edge/src/native/'])],
    {
      cwd: repo,
      env,
    },
  ),
);
