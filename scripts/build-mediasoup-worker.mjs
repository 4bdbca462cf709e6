#!/usr/bin/env node
// Provides a mediasoup-worker binary for the installed mediasoup, caches it outside node_modules and prints
// its path (the only line on stdout; progress goes to stderr):
//
//   export MEDIASOUP_WORKER_BIN="$(node scripts/build-mediasoup-worker.mjs)"
//
// Cache: ${MEDIASOUP_WORKER_CACHE:-$HOME/.cache/sightline/mediasoup-worker-<mediasoup version>}/mediasoup-worker
//
// In order, the first that gives a worker that starts wins (each result is copied into the cache):
//   1. the cached worker, when present: nothing to do;
//   2. the worker mediasoup's own postinstall left in node_modules/mediasoup/worker/out/Release;
//   3. mediasoup's official prebuilt worker, downloaded the way mediasoup's postinstall does it (needs the
//      internet; skipped with MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD=true);
//   4. a build from source against Debian's libraries, with the meson subproject shims and compat headers in
//      deploy/mediasoup/ (see deploy/mediasoup/README.md). Needs the Debian packages listed below.
//
// The source build shows one progress line (step, ninja's [n/m], elapsed) and writes the compiler output to a log
// file in the build folder, whose path it prints only when the build fails (--verbose streams it instead).
//
// Flags: --force (ignore the cache), --from-source (skip 2 and 3), --keep-build (keep the build folder),
//        --optional (exit 0 when no worker can be had: npm start then runs the demo without live video),
//        --verbose (the full meson/ninja output on stderr).
// Env: MEDIASOUP_WORKER_CACHE, MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD,
//      MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL (as in mediasoup), MESON_ARGS (extra `meson setup` args,
//      as in mediasoup, e.g. -Dms_disable_liburing=true), MEDIASOUP_WORKER_BUILD_JOBS (default: CPU count).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, homedir, platform, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const shimsDir = join(root, 'deploy', 'mediasoup', 'subprojects');
const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const fromSource = args.has('--from-source');
const keepBuild = args.has('--keep-build');
const verbose = args.has('--verbose');

// Debian packages the source build needs, with what each provides (checked before building).
const APT_PACKAGES = {
  meson: 'meson',
  'ninja-build': 'ninja',
  'g++': 'C++ compiler',
  'pkg-config': 'pkg-config',
  'libssl-dev': 'OpenSSL',
  'libuv1-dev': 'libuv',
  'libsrtp2-dev': 'libsrtp 2 (stands in for libsrtp 3)',
  'libusrsctp-dev': 'usrsctp',
  'libabsl-dev': 'Abseil',
  'libflatbuffers-dev': 'FlatBuffers headers',
  'flatbuffers-compiler': 'flatc',
  'liburing-dev': 'liburing',
};
// Oldest meson the shims were tested with (Debian 12's); mediasoup >= 3.19 asks for >= 1.1.0 but builds with it.
const MIN_MESON = '1.0.0';

const log = (msg) => process.stderr.write(`build-mediasoup-worker: ${msg}\n`);
// --optional (npm start): a worker that cannot be had is a warning, not an error; the hub then runs without live video.
const optional = args.has('--optional');
const fail = (msg) => {
  log(msg);
  if (optional)
    log('no mediasoup-worker: the hub will run without live video (see deploy/mediasoup/README.md)');
  process.exit(optional ? 0 : 1);
};

function findMediasoup() {
  const requireFromHub = createRequire(join(root, 'hub', 'package.json'));
  let main;
  try {
    main = requireFromHub.resolve('mediasoup');
  } catch {
    fail('mediasoup is not installed (it is a dependency of hub/): run `npm ci` first');
  }
  // main is <dir>/node/lib/index.js
  const dir = resolve(dirname(main), '..', '..');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return { dir, main, pkg };
}

export function cacheDirFor(version) {
  return (
    process.env.MEDIASOUP_WORKER_CACHE ||
    join(homedir(), '.cache', 'sightline', `mediasoup-worker-${version}`)
  );
}

function isExecutableFile(p) {
  try {
    return statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

// Starts the given binary through mediasoup itself (createWorker + a router), so the check is the real one.
function workerStarts(bin, ms) {
  if (!isExecutableFile(bin)) return false;
  const code = `
    const ms = await import(${JSON.stringify(pathToFileURL(ms.main).href)});
    const worker = await ms.createWorker({ logLevel: 'error' });
    await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
    worker.close();
    console.log('ok');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    env: { ...process.env, MEDIASOUP_WORKER_BIN: bin },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status === 0 && r.stdout.includes('ok')) return true;
  log(
    `${bin} does not start: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`,
  );
  return false;
}

/**
 * Revision of the from-source recipe (shims + source patches). A cached worker built by an older recipe is
 * rebuilt: recipe 2 added the kTLS patch below (workers of recipe 1 crash on the first DTLS handshake).
 */
const RECIPE = 2;

/** The cached worker's build-info.json, when there is one. */
function cachedInfo(cacheDir) {
  try {
    return JSON.parse(readFileSync(join(cacheDir, 'build-info.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Source patches for building against a system OpenSSL. mediasoup's DTLS output BIO has a callback that answers
 * 1 to every call but the post-call of a plain read/write (`operationType == BIO_CB_RETURN`), so
 * BIO_ctrl(BIO_CTRL_GET_KTLS_SEND) on it returns 1. mediasoup's own OpenSSL is built without kTLS
 * (BIO_get_ktls_send is then a constant 0); Debian's has kTLS, so OpenSSL believes the kernel frames the
 * records, allocates no write buffer and the worker dies with SIGSEGV writing the first DTLS record. The patch
 * passes through the real result of every post-call (`operationType & BIO_CB_RETURN`).
 */
const SOURCE_PATCHES = [
  {
    file: join('src', 'RTC', 'DtlsTransport.cpp'),
    from: '(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1',
    to: '((operationType & BIO_CB_RETURN) != 0) ? static_cast<long>(ret) : 1',
  },
];

function patchSources(worker) {
  for (const p of SOURCE_PATCHES) {
    const file = join(worker, p.file);
    const text = readFileSync(file, 'utf8');
    if (text.includes(p.to)) continue;
    if (!text.includes(p.from)) {
      fail(
        `cannot apply the ${p.file} patch: its code changed in this mediasoup; see deploy/mediasoup/README.md`,
      );
    }
    writeFileSync(file, text.replace(p.from, p.to));
    log(`patched ${p.file} (BIO callback results, for OpenSSL with kTLS)`);
  }
}

function install(bin, cacheDir, info) {
  mkdirSync(cacheDir, { recursive: true });
  const target = join(cacheDir, 'mediasoup-worker');
  const tmp = `${target}.tmp-${process.pid}`;
  copyFileSync(bin, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  writeFileSync(
    join(cacheDir, 'build-info.json'),
    `${JSON.stringify({ ...info, cachedAt: new Date().toISOString() }, null, 2)}\n`,
  );
  return target;
}

// Same asset name and address as mediasoup's npm-scripts.mjs (getWorkerPrebuildTarName, downloadPrebuiltWorker).
async function downloadPrebuilt(ms) {
  const { pkg } = ms;
  let name = `mediasoup-worker-${pkg.version}-${platform()}-${process.arch}`;
  if (platform() === 'linux') name += `-kernel${Number(release().split('.')[0])}`;
  name += '.tgz';
  const base =
    process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL ||
    `${pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}/releases/download`;
  const url = `${base}/${pkg.version}/${name}`;
  log(`trying mediasoup's prebuilt worker: ${url}`);
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  } catch (err) {
    log(`no prebuilt worker (${err.cause?.code ?? err.message}): building from source`);
    return null;
  }
  if (!res.ok) {
    log(`no prebuilt worker (HTTP ${res.status}): building from source`);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mediasoup-worker-prebuilt-'));
  const tgz = join(dir, name);
  writeFileSync(tgz, Buffer.from(await res.arrayBuffer()));
  execFileSync('tar', ['-xzf', tgz, '-C', dir]);
  const bin = join(dir, 'mediasoup-worker');
  if (!existsSync(bin) || !workerStarts(bin, ms)) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function versionAtLeast(v, min) {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

function checkBuildTools() {
  const hasDpkg = spawnSync('dpkg-query', ['--version']).status === 0;
  if (hasDpkg) {
    const missing = Object.keys(APT_PACKAGES).filter((p) => {
      const r = spawnSync('dpkg-query', ['-W', `-f=\${Status}`, p], { encoding: 'utf8' });
      return !(r.status === 0 && r.stdout.includes('install ok installed'));
    });
    if (missing.length) {
      fail(
        `cannot build mediasoup-worker from source: missing Debian packages:\n` +
          missing.map((p) => `  ${p} (${APT_PACKAGES[p]})`).join('\n') +
          `\ninstall them with:\n  apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`,
      );
    }
  } else {
    log('no dpkg here: checking the tools directly (the source build is tested on Debian 12 only)');
    for (const tool of ['meson', 'ninja', 'c++', 'pkg-config', 'flatc']) {
      if (spawnSync(tool, ['--version']).status !== 0)
        fail(`cannot build mediasoup-worker: ${tool} not found`);
    }
  }
  const meson = execFileSync('meson', ['--version'], { encoding: 'utf8' }).trim();
  if (!versionAtLeast(meson, MIN_MESON)) fail(`meson ${meson} is too old: need >= ${MIN_MESON}`);
  return meson;
}

/** Elapsed time as "42s" or "3m05s". */
export function formatElapsed(ms) {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** ninja's last "[n/m]" in a chunk of output, or undefined. */
export function ninjaProgress(text) {
  const all = [...text.matchAll(/\[(\d+)\/(\d+)\]/g)];
  const last = all.at(-1);
  return last ? { done: Number(last[1]), total: Number(last[2]) } : undefined;
}

/**
 * One progress line for the build: redrawn in place on a terminal; elsewhere (CI logs, npm start piped) a line at
 * each step and at most every 30 s, so the output stays a handful of lines.
 */
export class BuildProgress {
  #out;
  #tty;
  #started = Date.now();
  #lastPrinted = 0;
  #drawn = false;
  #text = '';

  constructor(out = process.stderr, tty = Boolean(out.isTTY)) {
    this.#out = out;
    this.#tty = tty;
  }

  /** Show `step` (e.g. "step 3/3 compile"), with ninja's counts when known. */
  update(step, counts, force = false) {
    const pct = counts
      ? ` [${counts.done}/${counts.total}] ${Math.floor((100 * counts.done) / counts.total)}%`
      : '';
    this.#text = `build-mediasoup-worker: ${step}${pct}, ${formatElapsed(Date.now() - this.#started)}`;
    const now = Date.now();
    if (this.#tty) {
      this.#out.write(`\r\x1b[2K${this.#text}`);
      this.#drawn = true;
    } else if (force || now - this.#lastPrinted >= 30_000) {
      this.#out.write(`${this.#text}\n`);
      this.#lastPrinted = now;
    }
  }

  /** End the in-place line so that the next message starts on a fresh line. */
  done() {
    if (this.#tty && this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }
}

/**
 * Run one build step with its output in `logFile` (or on stderr with --verbose), reporting ninja's progress.
 * Rejects with the command and its exit status; stdout stays for the resulting path alone.
 */
function run(cmd, cmdArgs, cwd, { logFile, progress, step }) {
  return new Promise((resolvePromise, reject) => {
    const logStream = createWriteStream(logFile, { flags: 'a' });
    logStream.write(`$ ${cmd} ${cmdArgs.join(' ')}\n`);
    if (verbose) log(`$ ${cmd} ${cmdArgs.join(' ')}`);
    else progress.update(step, undefined, true);
    const child = spawn(cmd, cmdArgs, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk) => {
      logStream.write(chunk);
      if (verbose) process.stderr.write(chunk);
      else progress.update(step, ninjaProgress(chunk.toString('utf8')));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      logStream.end();
      reject(new Error(`${cmd} could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      logStream.end(() => {
        if (code === 0) resolvePromise();
        else reject(new Error(`${cmd} ${cmdArgs.join(' ')} failed (exit ${code ?? signal})`));
      });
    });
  });
}

async function buildFromSource(ms) {
  const meson = checkBuildTools();
  const buildRoot = mkdtempSync(join(tmpdir(), `mediasoup-worker-${ms.pkg.version}-build-`));
  const worker = join(buildRoot, 'worker');
  log(`building mediasoup-worker ${ms.pkg.version} from source in ${worker} (a few minutes)`);
  const started = Date.now();
  // Build from a copy: node_modules stays as npm left it.
  cpSync(join(ms.dir, 'worker'), worker, {
    recursive: true,
    filter: (src) => !/[/\\]worker[/\\](out|prebuild|pip_invoke)([/\\]|$)/.test(src),
  });
  // Replace the wraps (they download sources) with the shims that use Debian's libraries.
  const subprojects = join(worker, 'subprojects');
  for (const f of readdirSync(subprojects)) rmSync(join(subprojects, f), { recursive: true, force: true });
  cpSync(shimsDir, subprojects, { recursive: true });
  patchSources(worker);
  // mediasoup asks for a newer meson than Debian 12's 1.0.1; the worker's meson.build needs nothing newer.
  const mesonBuild = join(worker, 'meson.build');
  const text = readFileSync(mesonBuild, 'utf8');
  const wanted = /meson_version:\s*'>=\s*([\d.]+)'/.exec(text)?.[1];
  if (wanted && !versionAtLeast(meson, wanted)) {
    log(`meson ${meson} < ${wanted} asked by mediasoup: relaxing the check to >= ${MIN_MESON}`);
    writeFileSync(
      mesonBuild,
      text.replace(/meson_version:\s*'>=\s*[\d.]+'/, `meson_version: '>= ${MIN_MESON}'`),
    );
  }
  const jobs = process.env.MEDIASOUP_WORKER_BUILD_JOBS || String(availableParallelism());
  const extra = (process.env.MESON_ARGS || '').split(/\s+/).filter(Boolean);
  const logFile = join(buildRoot, 'build.log');
  const progress = new BuildProgress();
  const options = (step) => ({ logFile, progress, step });
  try {
    await run(
      'meson',
      [
        'setup',
        '--buildtype',
        'release',
        '-Db_ndebug=true',
        '--wrap-mode=nodownload',
        ...extra,
        join('out', 'Release'),
      ],
      worker,
      options('step 1/3 configure'),
    );
    // Generated FlatBuffers headers first, as mediasoup's tasks.py does (libwebrtc includes them).
    await run(
      'meson',
      ['compile', '-C', join('out', 'Release'), 'flatbuffers-generator'],
      worker,
      options('step 2/3 generate FlatBuffers headers'),
    );
    await run(
      'meson',
      ['compile', '-C', join('out', 'Release'), '-j', jobs, 'mediasoup-worker'],
      worker,
      options('step 3/3 compile'),
    );
    progress.done();
  } catch (err) {
    progress.done();
    fail(`${err.message}\nfull build log: ${logFile}\nbuild folder kept for inspection: ${buildRoot}`);
  }
  const bin = join(worker, 'out', 'Release', 'mediasoup-worker');
  log(`built in ${Math.round((Date.now() - started) / 1000)} s`);
  return {
    bin,
    seconds: Math.round((Date.now() - started) / 1000),
    cleanup: () =>
      keepBuild ? log(`build folder kept: ${buildRoot}`) : rmSync(buildRoot, { recursive: true }),
  };
}

async function main() {
  const ms = findMediasoup();
  const version = ms.pkg.version;
  const cacheDir = cacheDirFor(version);
  const cached = join(cacheDir, 'mediasoup-worker');

  const info = cachedInfo(cacheDir);
  const stale = info?.source?.startsWith('built from source') && (info.recipe ?? 1) < RECIPE;
  if (stale) log(`cached worker was built by recipe ${info.recipe ?? 1} < ${RECIPE}: rebuilding`);
  if (!force && !stale && isExecutableFile(cached)) {
    log(`cached worker for mediasoup ${version}`);
    console.log(cached);
    return;
  }

  if (!fromSource) {
    const own = join(ms.dir, 'worker', 'out', 'Release', 'mediasoup-worker');
    if (existsSync(own) && workerStarts(own, ms)) {
      log(`using the worker mediasoup's postinstall left in ${own}`);
      console.log(install(own, cacheDir, { mediasoup: version, source: 'mediasoup postinstall', from: own }));
      return;
    }
    const skip = process.env.MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD;
    if (skip && skip !== 'false' && skip !== '0') {
      log('MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD set: not downloading the prebuilt worker');
    } else {
      const pre = await downloadPrebuilt(ms);
      if (pre) {
        const path = install(pre.bin, cacheDir, { mediasoup: version, source: 'prebuilt download' });
        pre.cleanup();
        log(`using mediasoup's prebuilt worker`);
        console.log(path);
        return;
      }
    }
  }

  const built = await buildFromSource(ms);
  if (!workerStarts(built.bin, ms))
    fail(`the built worker does not start (build folder: ${dirname(built.bin)})`);
  const path = install(built.bin, cacheDir, {
    mediasoup: version,
    source: 'built from source with deploy/mediasoup shims (Debian libraries)',
    recipe: RECIPE,
    buildSeconds: built.seconds,
  });
  built.cleanup();
  console.log(path);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  await main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
