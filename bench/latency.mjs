#!/usr/bin/env node
// Live latency (issue 7, benchmark 5): how far behind the source hls.js plays
// in headless Chromium, and how long until the first picture, for
//   - hlsd LL-HLS   (variant lowlatency, the embedded defaults for segments/parts),
//   - hlsd MPEG-TS  (5 s segments, 3 in the playlist),
//   - the ffmpeg CLI (-hls_time 5 -hls_list_size 3, program_date_time) served
//     statically by `python3 -m http.server` on loopback,
// alternating, same source and encoder settings. Latency = Date.now() -
// hls.playingDate (EXT-X-PROGRAM-DATE-TIME: the capture wall clock for hlsd,
// the muxer's wall clock for the CLI), sampled after PLAY seconds of play.
// First picture = start command (API call / ffmpeg spawn) -> first video frame
// presented. Also the part-appearance delay of hlsd (capture of a part's last
// frame -> part file in place), from the daemon's debug log of `part` events.
// Prints a Markdown section (stdout); progress goes to stderr.
//   node bench/latency.mjs --hlsd build/hlsd [--runs 3] [--play 15] [--size 1280x720] [--fps 30]
//                          [--catchup 1.5]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Daemon, freePort, killGroup, launchChromium, waitFor } from '../tests/browser/lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    hlsd: { type: 'string', default: 'build/hlsd' },
    runs: { type: 'string', default: '3' },
    play: { type: 'string', default: '15' },
    size: { type: 'string', default: '1280x720' },
    fps: { type: 'string', default: '30' },
    work: { type: 'string', default: '' },
    // hls.js maxLiveSyncPlaybackRate: how fast a player that fell behind (a
    // stall on a busy machine) may play to get back to its target latency;
    // the same for every scenario. 1 = hls.js's default (never catch up).
    catchup: { type: 'string', default: '1.5' },
  },
});
const RUNS = Number(opt.runs);
const PLAY = Number(opt.play);
const [W, H] = opt.size.split('x').map(Number);
const FPS = Number(opt.fps);
const CATCHUP = Number(opt.catchup);
const WORK = opt.work ? path.resolve(opt.work) : fs.mkdtempSync(path.join(os.tmpdir(), 'hlsd-latency-'));
const VIDEO = `testsrc2=size=${W}x${H}:rate=${FPS}`;
const AUDIO = 'sine=frequency=440:sample_rate=48000';
const HLSJS = path.join(ROOT, 'node_modules/hls.js/dist/hls.min.js');
const HLSJS_VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/hls.js/package.json'), 'utf8')).version;

const err = (...a) => console.error('#', ...a);

function median(a) {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function pct(a, p) {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function hlsdConfig() {
  const video = `{ width: ${W}, height: ${H}, bitrate: 5M, preset: ultrafast, tune: zerolatency }`;
  return `# written by bench/latency.mjs
ports:
  - index: 0
    name: ll
    input: { format: lavfi, url: "${VIDEO}" }
    audio_input: { format: lavfi, url: "${AUDIO}" }
    preview:
      hls: { variant: lowlatency }
  - index: 1
    name: ts
    input: { format: lavfi, url: "${VIDEO}" }
    audio_input: { format: lavfi, url: "${AUDIO}" }
    preview:
      hls: { variant: mpegts, segment_seconds: 5, list_size: 3 }
preview:
  video: ${video}
  audio: { bitrate: 128k }
vod:
  sample_recording: false
auth:
  enabled: false
`;
}

// The player page: served on the stream's own origin (no CORS needed) by
// intercepting one URL; start() waits for the playlist, then plays it.
const PAGE = `<!doctype html><meta charset="utf-8"><title>latency</title>
<video id="v" muted autoplay playsinline style="width:640px"></video>`;

async function openPlayer(browser, origin) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.route(`${origin}/__latency__.html`, (r) => r.fulfill({ body: PAGE, contentType: 'text/html' }));
  await page.goto(`${origin}/__latency__.html`);
  await page.addScriptTag({ path: HLSJS });
  return { ctx, page };
}

// Returns the wall clock (ms) of the first presented frame.
async function play(page, url, lowLatency, deadlineMs) {
  return page.evaluate(async ({ url, lowLatency, deadlineMs, catchup }) => {
    const deadline = Date.now() + deadlineMs;
    for (;;) { // the CLI's playlist appears only with its first segment
      try {
        const r = await fetch(url, { cache: 'no-store' });
        if (r.ok) break;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`no playlist at ${url}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const v = document.getElementById('v');
    const hls = new window.Hls({ lowLatencyMode: lowLatency, maxLiveSyncPlaybackRate: catchup });
    window.hls = hls;
    window.fatal = [];
    hls.on(window.Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.fatal.push(`${d.type}/${d.details}`); });
    const first = new Promise((res) => v.requestVideoFrameCallback(() => res(Date.now())));
    hls.attachMedia(v);
    hls.loadSource(url);
    v.play().catch(() => {});
    return Promise.race([first, new Promise((_r, rej) => setTimeout(() => rej(new Error(
      `no picture within ${deadlineMs} ms (fatal: ${window.fatal.join(', ')})`)), Math.max(0, deadline - Date.now())))]);
  }, { url, lowLatency, deadlineMs, catchup: CATCHUP });
}

async function sampleLatency(page) {
  const out = [];
  for (let i = 0; i < 7; i++) {
    const s = await page.evaluate(() => {
      const d = window.hls.playingDate;
      const v = document.getElementById('v');
      return { lat: d ? (Date.now() - d.getTime()) / 1000 : null, hlsLatency: window.hls.latency,
        t: v.currentTime, fatal: window.fatal };
    });
    if (s.fatal.length) throw new Error(`hls.js fatal error: ${s.fatal.join(', ')}`);
    if (s.lat !== null) out.push(s);
    await sleep(500);
  }
  if (!out.length) throw new Error('hls.playingDate stayed null (no PROGRAM-DATE-TIME?)');
  return { latency: median(out.map((s) => s.lat)), hlsLatency: median(out.map((s) => s.hlsLatency)) };
}

async function measure(browser, origin, url, lowLatency, start) {
  const { ctx, page } = await openPlayer(browser, origin);
  try {
    const t0 = Date.now();
    await start();
    const firstAt = await play(page, url, lowLatency, 60000);
    await waitFor(() => page.evaluate((p) => document.getElementById('v').currentTime > p, PLAY), PLAY * 1000 + 30000,
      `${PLAY} s of play`, 250);
    const lat = await sampleLatency(page);
    return { first: (firstAt - t0) / 1000, ...lat };
  } finally {
    await ctx.close();
  }
}

function partDelays(logPath, fromByte) {
  const text = fs.readFileSync(logPath, 'utf8').slice(fromByte);
  return [...text.matchAll(/\[port 0\] part \S+ ready ([0-9.]+) s after its last frame/g)].map((m) => Number(m[1]));
}

async function runHlsd(browser, daemon, index, lowLatency) {
  const logStart = fs.statSync(daemon.logPath).size;
  try {
    const r = await measure(browser, daemon.base, `${daemon.base}/hls/port_${index}.m3u8`, lowLatency, async () => {
      const res = await daemon.api('POST', `/api/ports/${index}/preview`);
      if (res.status !== 200) throw new Error(`POST preview ${index}: ${res.status} ${res.text}`);
    });
    if (lowLatency) r.parts = partDelays(daemon.logPath, logStart);
    return r;
  } finally {
    await daemon.api('DELETE', `/api/ports/${index}/preview`);
    await waitFor(async () => (await daemon.api('GET', `/api/ports/${index}/preview`)).json.state === 'stopped',
      15000, 'the preview to stop');
  }
}

async function runCli(browser) {
  const dir = path.join(WORK, 'cli');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const srv = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir],
    { stdio: 'ignore', detached: true });
  let ff = null;
  try {
    await waitFor(async () => { try { return (await fetch(`${origin}/`)).ok; } catch { return false; } }, 10000,
      'the static server');
    return await measure(browser, origin, `${origin}/port_0.m3u8`, false, async () => {
      ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', VIDEO, '-re', '-f', 'lavfi',
        '-i', AUDIO, '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', '5M',
        '-s', `${W}x${H}`, '-c:a', 'aac', '-b:a', '128k', '-f', 'hls', '-hls_time', '5', '-hls_list_size', '3',
        '-hls_flags', 'delete_segments+program_date_time', path.join(dir, 'port_0.m3u8')],
      { stdio: ['pipe', 'ignore', 'inherit'], detached: true });
    });
  } finally {
    if (ff) await killGroup(ff.pid, 3000, 'ffmpeg');
    await killGroup(srv.pid, 3000, 'http.server');
  }
}

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  const daemon = new Daemon({ hlsd: opt.hlsd, dir: path.join(WORK, 'hlsd'), config: hlsdConfig() });
  await daemon.start();
  const chrome = await launchChromium(chromium);
  const res = { ll: [], ts: [], cli: [] };
  const failures = [];
  try {
    for (let i = 1; i <= RUNS; i++) {
      for (const [key, fn] of [['ll', () => runHlsd(chrome.browser, daemon, 0, true)],
        ['ts', () => runHlsd(chrome.browser, daemon, 1, false)], ['cli', () => runCli(chrome.browser)]]) {
        err(`run ${i}/${RUNS}: ${key}`);
        try {
          const r = await fn();
          err(`  first picture ${f(r.first)} s, latency ${f(r.latency)} s (hls.latency ${f(r.hlsLatency)} s)`);
          res[key].push(r);
        } catch (e) {
          err(`  failed: ${e.message}`);
          failures.push(`${key} run ${i}: ${e.message}`);
        }
      }
    }
  } finally {
    await chrome.close();
    await daemon.stop();
  }
  const parts = res.ll.flatMap((r) => r.parts || []);
  const row = (name, rs) => `| ${name} | ${f(median(rs.map((r) => r.latency)))} | ${f(median(rs.map((r) => r.hlsLatency)))} | ${f(median(rs.map((r) => r.first)))} | ${rs.length} |`;
  const cpu = (os.cpus()[0] || {}).model || 'unknown CPU';
  const lines = [
    `### Live latency in hls.js (Chromium), median of ${RUNS}`,
    '',
    `Command: \`bench/latency.sh ${path.dirname(opt.hlsd)} ${RUNS} ${PLAY}\` (SIZE=${W}x${H} FPS=${FPS} CATCHUP=${CATCHUP})`,
    '',
    `- machine: ${os.cpus().length} cores, ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    `- source: lavfi ${VIDEO} + 440 Hz tone, libx264 ultrafast zerolatency 5M, AAC 128k; latency sampled after ${PLAY} s of play`,
    '- latency: `Date.now() - hls.playingDate` (PROGRAM-DATE-TIME); first picture: start command -> first frame shown',
    `- hls.js ${HLSJS_VERSION}: \`lowLatencyMode\` for hlsd LL-HLS only, \`maxLiveSyncPlaybackRate: ${CATCHUP}\` for all`,
    '',
    '| | latency s | hls.js `latency` s | first picture s | runs |',
    '|---|---|---|---|---|',
    row('hlsd LL-HLS (fMP4 parts)', res.ll),
    row('hlsd MPEG-TS (5 s, list 3)', res.ts),
    row('ffmpeg CLI (5 s, list 3, static)', res.cli),
    '',
    `Part appearance (capture of a part's last frame -> part file in place, hlsd LL-HLS): median ${f(median(parts) * 1000, 0)} ms, `
      + `p95 ${f(pct(parts, 0.95) * 1000, 0)} ms, max ${f(Math.max(...parts) * 1000, 0)} ms over ${parts.length} parts.`,
  ];
  if (failures.length) lines.push('', 'Failed runs:', ...failures.map((x) => `- ${x}`));
  console.log(lines.join('\n'));
  if (!opt.work) fs.rmSync(WORK, { recursive: true, force: true });
  return failures.length && !res.ll.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
