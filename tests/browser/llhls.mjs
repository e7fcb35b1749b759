#!/usr/bin/env node
// Browser test of Low-Latency HLS (issue 7): hls.js in Debian's Chromium plays
// an hlsd `lowlatency` preview, in low-latency mode (parts, blocking reloads)
// and in plain mode (whole segments, as the web page's tiles do), without a
// fatal error. How far behind live it plays is measured by
// bench/latency.sh, not here (no timing assertions on a shared machine).
//   node tests/browser/llhls.mjs --hlsd build/hlsd --work build/browser-llhls [-k FILTER]
// The last line is "integration: N passed, N failed" (read by tests/run-all.sh).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Abort, Daemon, freshDir, launchChromium, log, runTests, testOptions, waitFor } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HLSJS = path.join(ROOT, 'node_modules/hls.js/dist/hls.min.js');
const opt = testOptions('build/browser-llhls');
const WORK = path.resolve(opt.work);

const CONFIG = `# written by tests/browser/llhls.mjs
ports:
  - index: 0
    name: ll
    input: { format: lavfi, url: "testsrc2=size=320x180:rate=25" }
    audio_input: { format: lavfi, url: "sine=frequency=440:sample_rate=48000" }
preview:
  video: { width: 320, height: 180, bitrate: 300k }
  audio: { bitrate: 64k }
  hls: { variant: lowlatency, segment_seconds: 1, part_seconds: 0.25, list_size: 4 }
vod:
  sample_recording: false
auth:
  enabled: false
`;

// A bare page on the daemon's origin (no CORS involved) with hls.js.
const PAGE = '<!doctype html><meta charset="utf-8"><video id="v" muted autoplay playsinline></video>';

async function playerPage(browser, daemon) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.route(`${daemon.base}/__llhls__.html`, (r) => r.fulfill({ body: PAGE, contentType: 'text/html' }));
  await page.goto(`${daemon.base}/__llhls__.html`);
  await page.addScriptTag({ path: HLSJS });
  return { ctx, page, requests };
}

async function playFor(page, url, lowLatencyMode, seconds) {
  await page.evaluate(({ url, lowLatencyMode }) => {
    const v = document.getElementById('v');
    const hls = new window.Hls({ lowLatencyMode });
    window.fatal = [];
    hls.on(window.Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.fatal.push(`${d.type}/${d.details}: ${d.reason || ''}`); });
    hls.attachMedia(v);
    hls.loadSource(url);
    v.play().catch(() => {});
    window.hls = hls;
  }, { url, lowLatencyMode });
  return waitFor(async () => {
    const s = await page.evaluate(() => {
      const v = document.getElementById('v');
      return { t: v.currentTime, fatal: window.fatal, err: v.error && v.error.message };
    });
    if (s.fatal.length) throw new Abort(`fatal hls.js error: ${s.fatal.join(', ')}`);
    if (s.err) throw new Abort(`<video> error: ${s.err}`);
    return s.t > seconds && s;
  }, 30000, `currentTime > ${seconds} s`, 200);
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('ll_mode_plays_parts_with_blocking_reload', async ({ browser, daemon }) => {
  const { ctx, page, requests } = await playerPage(browser, daemon);
  try {
    const s = await playFor(page, `${daemon.base}/hls/port_0.m3u8`, true, 2);
    const parts = requests.filter((u) => /-\d+\.\d+\.m4s$/.test(u));
    const blocking = requests.filter((u) => u.includes('_HLS_msn='));
    log(`#   played ${s.t.toFixed(2)} s; ${parts.length} part and ${blocking.length} blocking playlist requests`);
    if (!parts.length) throw new Error('hls.js loaded no parts in low-latency mode');
    if (!blocking.length) throw new Error('hls.js made no blocking playlist request');
    const lat = await page.evaluate(() => window.hls.latency);
    log(`#   hls.js latency ${lat.toFixed(2)} s (informative)`);
  } finally {
    await ctx.close();
  }
});

test('plain_mode_plays_whole_segments', async ({ browser, daemon }) => {
  const { ctx, page, requests } = await playerPage(browser, daemon);
  try {
    const s = await playFor(page, `${daemon.base}/hls/port_0.m3u8`, false, 2);
    const segs = requests.filter((u) => /-\d+\.m4s$/.test(u) && !/-\d+\.\d+\.m4s$/.test(u));
    log(`#   played ${s.t.toFixed(2)} s; ${segs.length} segment requests`);
    if (!segs.length) throw new Error('hls.js loaded no whole segments in plain mode');
  } finally {
    await ctx.close();
  }
});

let daemon = null;
let chrome = null;

async function setup() {
  daemon = new Daemon({ hlsd: opt.hlsd, dir: freshDir(path.join(WORK, 'run')), config: CONFIG });
  await daemon.start();
  const r = await daemon.api('POST', '/api/ports/0/preview');
  if (r.status !== 200) throw new Error(`POST preview: ${r.status} ${r.text}`);
  chrome = await launchChromium(chromium);
}

await runTests(tests, opt.k, {
  setup,
  run: (tc) => tc.fn({ browser: chrome.browser, daemon }),
  shared: () => ({ daemon, chrome }),
});
