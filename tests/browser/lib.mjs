// Helpers of the browser tests: test media (ffmpeg CLI), the daemon on a free
// loopback port, Chromium through playwright-core, and deadline polling.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

export const sha256 = (s) => createHash('sha256').update(s).digest('hex');

export function log(...a) {
  console.log(...a);
}

// Runs a command to completion; throws with its stderr when it fails.
export function run(cmd, args, { timeout = 120000 } = {}) {
  const p = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  if (p.error) throw new Error(`${cmd} ${args.join(' ')}: ${p.error.message}`);
  if (p.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${p.status}: ${(p.stderr || '').slice(-2000)}`);
  return p;
}

// Generates <dir>/<name> once with `ffmpeg <args> out` (cached across runs).
export function makeMedia(dir, name, args) {
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, name);
  if (fs.existsSync(out) && fs.statSync(out).size > 0) return out;
  const tmp = `${out}.part${path.extname(name)}`;
  run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args, tmp], { timeout: 300000 });
  fs.renameSync(tmp, out);
  return out;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Thrown inside a waitFor() callback to stop waiting at once (a fatal condition).
export class Abort extends Error {}

// Polls fn() until it returns a truthy value; throws with the last value/error at the deadline.
export async function waitFor(fn, timeoutMs, what, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e instanceof Abort) throw e;
      last = e;
    }
    if (Date.now() >= deadline) {
      const l = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${l})`);
    }
    await sleep(intervalMs);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// SIGTERM to the process group, then SIGKILL after graceMs.
export async function killGroup(pid, graceMs, label) {
  if (!pid || !alive(pid)) return;
  try { process.kill(-pid, 'SIGTERM'); } catch { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive(pid)) await sleep(50);
  if (alive(pid)) {
    log(`# ${label} (pid ${pid}) ignored SIGTERM for ${graceMs / 1000} s: SIGKILL`);
    try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
}

export class Daemon {
  constructor({ hlsd, dir, config }) {
    this.hlsd = path.resolve(hlsd);
    this.dir = dir;
    this.state = path.join(dir, 'state');
    this.configPath = path.join(dir, 'hlsd.yaml');
    this.logPath = path.join(dir, 'hlsd.log');
    fs.mkdirSync(this.state, { recursive: true });
    fs.writeFileSync(this.configPath, config);
    this.proc = null;
    this.exit = null;
  }

  // `hlsd recordings add FILE --camera NAME --start EPOCH` into this daemon's state folder.
  addRecording(file, camera, start) {
    return run(this.hlsd, ['recordings', 'add', file, '--camera', camera, '--start', String(start),
      '--config', this.configPath, '--state-dir', this.state]);
  }

  async start() {
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    const out = fs.openSync(this.logPath, 'a');
    this.proc = spawn(this.hlsd, ['serve', '--config', this.configPath, '--listen', `127.0.0.1:${this.port}`,
      '--state-dir', this.state, '--log-level', 'debug'], { stdio: ['ignore', out, out], detached: true });
    fs.closeSync(out);
    this.proc.on('exit', (code, sig) => { this.exit = { code, sig }; });
    await waitFor(async () => {
      if (this.exit) throw new Error(`hlsd exited (${JSON.stringify(this.exit)}): ${this.logTail(3000)}`);
      try {
        const r = await fetch(`${this.base}/api/health`, { signal: AbortSignal.timeout(2000) });
        return r.status === 200;
      } catch {
        return false;
      }
    }, 20000, `hlsd health on ${this.base} (log ${this.logPath})`);
  }

  logTail(n = 2000) {
    try { return fs.readFileSync(this.logPath, 'utf8').slice(-n); } catch { return ''; }
  }

  async api(method, p, { token, body } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(this.base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30000) });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json, text };
  }

  // SIGTERM, then SIGKILL after 10 s: the daemon itself stops workers with its ladder.
  async stop() {
    if (this.proc && !this.exit) await killGroup(this.proc.pid, 10000, 'hlsd');
  }
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'];

// Chromium as a playwright browser server (so its process can be killed by
// id at the end), and a client connected to it. Playwright gives each launch a
// fresh temporary user-data-dir.
export async function launchChromium(chromium) {
  const server = await chromium.launchServer({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const pid = server.process().pid;
  let browser;
  try {
    browser = await chromium.connect(server.wsEndpoint());
  } catch (e) {
    await killGroup(pid, 3000, 'chromium');
    throw e;
  }
  return {
    browser,
    async close() {
      try {
        await Promise.race([browser.close(), sleep(5000)]);
      } catch { /* already gone */ }
      try {
        await Promise.race([server.close(), sleep(5000)]);
      } catch { /* already gone */ }
      await killGroup(pid, 3000, 'chromium');
    },
  };
}

// The command line of a test script: --hlsd, --work (default defaultWork) and
// -k FILTER (only the tests whose name contains it).
export function testOptions(defaultWork) {
  const { values } = parseArgs({
    options: {
      hlsd: { type: 'string', default: 'build/hlsd' },
      work: { type: 'string', default: defaultWork },
      k: { type: 'string', default: '' },
    },
  });
  return values;
}

// dir, empty (what an earlier run left there is removed).
export function freshDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

// Runs the tests ({name, fn}) whose name contains filter, one after the
// other, logging PASS/FAIL lines and, last, "integration: N passed, N failed"
// (read by tests/run-all.sh); then exits, 1 when anything failed. Hooks:
// setup() starts what the tests share; run(tc, t) runs one test, t being a
// fresh object for its state; onFail(tc, t) (optional) runs after its FAIL
// line; afterEach(tc, t) (optional) after every test; shared() returns
// { daemon, chrome } as they are now: the daemon's log tail goes with every
// failure, and both are stopped at the end or on SIGINT/SIGTERM.
export async function runTests(tests, filter, { setup, run, onFail, afterEach, shared }) {
  const stop = async () => {
    const { daemon, chrome } = shared();
    if (chrome) await chrome.close();
    if (daemon) await daemon.stop();
  };
  const logTail = () => {
    const { daemon } = shared();
    if (daemon) log(`#   hlsd log tail:\n${daemon.logTail(3000).replace(/^/gm, '#   | ')}`);
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, async () => {
      log(`# ${sig}: stopping Chromium and hlsd`);
      await stop();
      process.exit(130);
    });
  }
  let passed = 0, failed = 0;
  const selected = tests.filter((x) => !filter || x.name.includes(filter));
  try {
    await setup();
    for (const tc of selected) {
      const t = {};
      const t0 = Date.now();
      const took = () => ((Date.now() - t0) / 1000).toFixed(1);
      try {
        await run(tc, t);
        passed += 1;
        log(`PASS ${tc.name} (${took()} s)`);
      } catch (e) {
        failed += 1;
        log(`FAIL ${tc.name} (${took()} s): ${e.stack || e}`);
        if (onFail) await onFail(tc, t);
        logTail();
      } finally {
        if (afterEach) await afterEach(tc, t);
      }
    }
  } catch (e) {
    failed += 1;
    log(`FAIL setup: ${e.stack || e}`);
    logTail();
  } finally {
    await stop();
  }
  log(`integration: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
