#!/usr/bin/env node
// Browser tests of the web page: Debian's Chromium driven by playwright-core
// against a real hlsd on a free loopback port.
//   node tests/browser/run.mjs --hlsd build/hlsd --work build/browser [-k FILTER]
// Screenshots go to the --work folder; the last line is
// "integration: N passed, N failed" (read by tests/run-all.sh).
import fs from 'node:fs';
import path from 'node:path';
import {
  Abort, Daemon, freshDir, launchChromium, log, makeMedia, runTests, sha256, testOptions, waitFor,
} from './lib.mjs';

const opt = testOptions('build/browser');
const WORK = path.resolve(opt.work);
const ADMIN_TOKEN = 'browser-admin-token-0123456789';
const VIEWER_TOKEN = 'browser-viewer-token-9876543210';
// The recordings sit on a fixed UTC day, so the test does not depend on the clock.
const DAY = '2024-01-15';
const REC_START = Date.UTC(2024, 0, 15, 10, 0, 0) / 1000; // cam1: 30 s H.265 + AAC
const REC_SECONDS = 30;
const PASS_START = Date.UTC(2024, 0, 15, 11, 0, 0) / 1000; // cam2: 6 s H.264 + AAC
// cam3: the 6 s clip on 2024-03-10 12:00 UTC, the day New York springs
// forward (a 23-hour local day): 08:00 EDT.
const DST_DAY = '2024-03-10';
const DST_START = Date.UTC(2024, 2, 10, 12, 0, 0) / 1000;

const TILE0 = '[data-testid="port-tile"][data-port-index="0"]';

function config() {
  return `# written by tests/browser/run.mjs
ports:
  - index: 0
    name: testcam
    input: { format: lavfi, url: "testsrc2=size=320x180:rate=25" }
    audio_input: { format: lavfi, url: "sine=frequency=440:sample_rate=48000" }
    preview:
      video: { width: 320, height: 180, bitrate: 400k }
      audio: { bitrate: 64k }
      hls: { segment_seconds: 1, list_size: 4 }
  - index: 1
    name: spare
    input: { format: lavfi, url: "testsrc2=size=320x180:rate=25" }
    on_demand: true
    preview:
      video: { width: 320, height: 180, bitrate: 300k }
      hls: { segment_seconds: 1, list_size: 4 }
      idle_seconds: 4
vod:
  sample_recording: false
  max_height: 180
auth:
  enabled: true
  users:
    - { name: admin, role: admin, token_sha256: ${sha256(ADMIN_TOKEN)} }
    - { name: viewer, role: viewer, cameras: [testcam, spare, cam1], token_sha256: ${sha256(VIEWER_TOKEN)} }
`;
}

// ------------------------------------------------------------------ harness
const tests = [];
const test = (name, fn) => tests.push({ name, fn });
let daemon;
let chrome;

// Pages run in UTC unless a test says otherwise (the times they type are UTC).
async function newPage(t, timezoneId = 'UTC') {
  const ctx = await chrome.browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId });
  const page = await ctx.newPage();
  t.pageErrors = t.pageErrors || [];
  page.on('pageerror', (e) => t.pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') log(`#   console: ${m.text()}`); });
  t.contexts.push(ctx);
  return page;
}

async function shot(page, name) {
  const file = path.join(WORK, name);
  await page.screenshot({ path: file, fullPage: true });
  log(`#   screenshot ${file}`);
}

async function login(page, token, who) {
  await page.goto(`${daemon.base}/`);
  await page.waitForSelector('#login-view:not([hidden])', { timeout: 15000 });
  await page.fill('#login-token', token);
  await page.click('#login-submit');
  await page.waitForSelector('#user-box:not([hidden])', { timeout: 15000 });
  const name = await page.textContent('#user-name');
  if (name !== who) throw new Error(`signed in as '${name}', expected '${who}'`);
}

function eq(a, b, what) {
  if (a !== b) throw new Error(`${what}: got ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`);
}
function ok(cond, what) {
  if (!cond) throw new Error(what);
}

async function fatalErrors(page) {
  return page.evaluate(() => (window.hlsdDebug ? window.hlsdDebug.fatalErrors : []));
}

async function noFatal(page) {
  const f = await fatalErrors(page);
  if (f.length) throw new Abort(`fatal hls.js error: ${JSON.stringify(f)}`);
}

const videoState = (page, sel) => page.evaluate((s) => {
  const v = document.querySelector(s);
  return v && { t: v.currentTime, d: v.duration, paused: v.paused, ready: v.readyState, err: v.error && v.error.message,
    latency: v.dataset.latency === undefined ? null : Number(v.dataset.latency) };
}, sel);

// Waits until the video at `sel` plays `seconds` beyond its first position;
// returns {start, end, firstFrameMs, totalMs}.
async function waitPlays(page, sel, seconds, deadlineMs, minTime = 0, tile = null) {
  const t0 = Date.now();
  let first = null, firstAt = null;
  const end = await waitFor(async () => {
    await noFatal(page);
    if (tile && (await page.getAttribute(tile, 'data-state')) === 'failed') {
      throw new Abort(`the port failed: ${await page.textContent(`${tile} [data-testid=port-error]`)}`);
    }
    const s = await videoState(page, sel);
    if (s && s.err) throw new Abort(`<video> error: ${s.err}`);
    if (!s || !(s.t > 0)) return false;
    if (first === null) { first = s.t; firstAt = Date.now(); }
    return s.t - first >= seconds && s.t > minTime ? s.t : false;
  }, deadlineMs, `${sel} to play ${seconds} s`, 200);
  return { start: first, end, firstFrameMs: firstAt - t0, totalMs: Date.now() - t0 };
}

// ------------------------------------------------------------------ tests
test('wrong_token_shows_error', async (t) => {
  const page = await newPage(t);
  await page.goto(`${daemon.base}/`);
  await page.waitForSelector('#login-view:not([hidden])', { timeout: 15000 });
  await shot(page, 'login.png');
  await page.fill('#login-token', 'not-a-valid-token');
  await page.click('#login-submit');
  await page.waitForSelector('#login-error:not([hidden])', { timeout: 10000 });
  const msg = (await page.textContent('#login-error')).trim();
  log(`#   login error shown: "${msg}"`);
  // The words must be the server's, not a generic placeholder.
  const r = await daemon.api('POST', '/api/login', { body: { token: 'not-a-valid-token-either' } });
  ok(r.status === 401 || r.status === 403, `API answered ${r.status} to a wrong token`);
  ok(r.json && r.json.message && msg.includes(r.json.message), `error "${msg}" lacks the API message "${r.json && r.json.message}"`);
  ok(await page.isHidden('#user-box'), 'user box shown after a refused login');
  ok(await page.isHidden('#live-view'), 'live view shown after a refused login');
  await shot(page, 'login-error.png');
});

test('live_preview_plays_and_stops', async (t) => {
  const page = await newPage(t);
  await login(page, ADMIN_TOKEN, 'admin');
  eq((await page.textContent('#user-role')).trim(), 'admin', 'role shown');
  await page.waitForSelector(TILE0, { timeout: 10000 });
  ok(await page.isVisible(`${TILE0} [data-testid=port-start]`), 'admin sees no Start button on a stopped port');
  await page.click(`${TILE0} [data-testid=port-start]`);
  const video = `${TILE0} video`;
  const p = await waitPlays(page, video, 3, 45000, 3, TILE0);
  log(`#   port 0: first frame ${(p.firstFrameMs / 1000).toFixed(1)} s after Start; currentTime ${p.start.toFixed(2)} -> ${p.end.toFixed(2)} after ${(p.totalMs / 1000).toFixed(1)} s`);
  const lat = await waitFor(async () => (await videoState(page, video)).latency, 10000, 'latency from EXT-X-PROGRAM-DATE-TIME');
  const latText = await page.textContent(`${TILE0} [data-testid=port-latency]`);
  log(`#   port 0 latency behind live: ${lat.toFixed(2)} s ("${latText}")`);
  ok(lat > 0 && lat < 20, `latency ${lat} s out of range`);
  ok(/behind live/.test(latText), `latency text "${latText}"`);
  await waitFor(async () => (await page.getAttribute(TILE0, 'data-state')) === 'running', 10000, 'tile state running');
  const stats = await waitFor(async () => {
    const x = await page.$$eval(`${TILE0} .stats dd`, (d) => d.map((e) => e.textContent));
    return parseFloat(x[0]) > 0 && x[1] !== '–' ? x : false;
  }, 10000, 'fps and bitrate in the tile');
  log(`#   tile stats: fps ${stats[0]}, bitrate ${stats[1]}, restarts ${stats[2]}, segments ${stats[3]}`);
  await shot(page, 'live.png');

  // The enlarged player (low-latency mode) plays too, and the tile gives up its player.
  await page.click(`${TILE0} [data-testid=port-enlarge]`);
  await page.waitForSelector('#main-player:not([hidden])', { timeout: 5000 });
  const m = await waitPlays(page, '#main-video', 1.5, 30000);
  const mainLat = await waitFor(async () => (await videoState(page, '#main-video')).latency, 10000, 'enlarged latency');
  log(`#   enlarged: first frame after ${(m.firstFrameMs / 1000).toFixed(1)} s, latency ${mainLat.toFixed(2)} s`);
  const lowLatency = await page.evaluate(() => window.hlsdDebug.players.main && window.hlsdDebug.players.main.lowLatencyMode);
  ok(lowLatency === true, 'enlarged player not in low-latency mode');
  ok(!(await page.evaluate(() => 'port-0' in window.hlsdDebug.players)), 'tile player still running while enlarged');
  await shot(page, 'live-enlarged.png');
  await page.click('#main-player-close');
  await page.waitForSelector('#main-player', { state: 'hidden', timeout: 5000 });
  await waitPlays(page, video, 1, 30000);

  await page.click(`${TILE0} [data-testid=port-stop]`);
  await waitFor(async () => (await page.getAttribute(TILE0, 'data-state')) === 'stopped', 15000, 'tile state stopped');
  ok(!(await page.evaluate(() => 'port-0' in window.hlsdDebug.players)), 'tile player left running after Stop');
  const st = await daemon.api('GET', '/api/ports/0/preview', { token: ADMIN_TOKEN });
  eq(st.status, 200, 'GET /api/ports/0/preview');
  eq(st.json.previewing, false, 'previewing after Stop');
  await noFatal(page);
});

test('on_demand_port_plays_while_watched', async (t) => {
  const page = await newPage(t);
  await login(page, VIEWER_TOKEN, 'viewer');
  const tile = '[data-testid="port-tile"][data-port-index="1"]';
  await page.waitForSelector(tile, { timeout: 10000 });
  // Nobody watches it: the page must not start it by itself.
  eq(await page.getAttribute(tile, 'data-state'), 'stopped', 'on-demand port state before Watch');
  await page.click(`${tile} [data-testid=port-watch]`);
  const p = await waitPlays(page, `${tile} video`, 1.5, 40000);
  log(`#   on-demand port: first frame ${(p.firstFrameMs / 1000).toFixed(1)} s after Watch`);
  await waitFor(async () => (await page.getAttribute(tile, 'data-state')) === 'running', 10000, 'on-demand tile state running');
  await page.click(`${tile} [data-testid=port-watch]`); // stop watching
  ok(!(await page.evaluate(() => 'port-1' in window.hlsdDebug.players)), 'player left running after Stop watching');
  // With no more playlist requests the port stops after its idle time (4 s).
  const t0 = Date.now();
  await waitFor(async () => (await daemon.api('GET', '/api/ports/1/preview', { token: ADMIN_TOKEN })).json.previewing === false,
    20000, 'the on-demand port to stop once nobody watches', 250);
  log(`#   on-demand port stopped ${((Date.now() - t0) / 1000).toFixed(1)} s after Stop watching`);
  await noFatal(page);
});

async function openRecordings(page, camera) {
  await page.click('#tab-recordings');
  await page.waitForSelector('#recordings-view:not([hidden])', { timeout: 5000 });
  await waitFor(async () => (await page.$$eval('#rec-camera option', (o) => o.map((x) => x.value))).includes(camera),
    10000, `camera ${camera} in the list`);
  await page.selectOption('#rec-camera', camera);
  await page.fill('#rec-date', DAY);
  await page.waitForSelector('[data-testid=rec-bar]', { timeout: 10000 });
}

const clock = (epoch) => new Date(epoch * 1000).toISOString().slice(11, 19);

async function playRange(page, start, end) {
  await page.fill('#rec-start', clock(start));
  await page.fill('#rec-end', clock(end));
  const resp = page.waitForResponse((r) => r.url().includes('/api/transcode/'), { timeout: 30000 });
  await page.click('#rec-play');
  const r = await resp;
  const body = await r.json();
  eq(r.status(), 200, `transcode answer ${JSON.stringify(body)}`);
  await page.waitForSelector('#vod-card:not([hidden])', { timeout: 5000 });
  return body;
}

// What hls.js may pick from a two-variant session: the codecs this
// Chromium's Media Source Extensions claim to decode.
const HEVC_TYPE = 'video/mp4;codecs="hvc1.1.6.L60.90"';

async function encodersStarted() {
  const m = (await daemon.api('GET', '/metrics', { token: ADMIN_TOKEN })).text;
  const x = /^hlsd_transcode_encoders_started_total (\d+)/m.exec(m);
  return x ? Number(x[1]) : 0;
}

// Media requests of a page, for "which rendition was read".
function recordRequests(page) {
  const urls = [];
  page.on('request', (r) => { if (r.url().includes('/stream/transcode/')) urls.push(r.url()); });
  return urls;
}

test('recording_plays_and_seeks', async (t) => {
  const page = await newPage(t);
  const requests = recordRequests(page);
  await login(page, ADMIN_TOKEN, 'admin');
  const hevcDecodes = await page.evaluate((ty) => MediaSource.isTypeSupported(ty), HEVC_TYPE);
  log(`#   this Chromium decodes HEVC in MSE: ${hevcDecodes}`);
  await openRecordings(page, 'cam1');
  const bars = await page.$$('[data-testid=rec-bar]');
  eq(bars.length, 1, 'recording bars on the timeline');

  // Drag across the recording on the timeline: the range inputs follow.
  const bar = await bars[0].boundingBox();
  const tl = await (await page.$('#timeline')).boundingBox();
  const y = tl.y + tl.height / 2;
  await page.mouse.move(bar.x - 15, y);
  await page.mouse.down();
  await page.mouse.move(bar.x + 5, y, { steps: 4 });
  await page.mouse.move(bar.x + bar.width + 15, y, { steps: 4 });
  await page.mouse.up();
  const from = await page.inputValue('#rec-start'), to = await page.inputValue('#rec-end');
  log(`#   dragged selection: ${from} – ${to}`);
  ok(await page.isVisible('#timeline-selection'), 'no selection drawn after the drag');
  ok(from < clock(REC_START) && to > clock(REC_START + REC_SECONDS), `drag selected ${from}–${to}, not around the recording`);

  const t0 = Date.now();
  const res = await playRange(page, REC_START, REC_START + REC_SECONDS);
  log(`#   transcode answer after ${Date.now() - t0} ms: ${JSON.stringify(res)}`);
  eq(!!res.passthrough, false, 'passthrough for an H.265 recording');
  ok(await page.isHidden('#passthrough-badge'), 'passthrough badge shown for a re-encoded recording');
  // The whole length is known at once, before the encoder got far.
  const d = await waitFor(async () => {
    await noFatal(page);
    const s = await videoState(page, '#vod-video');
    return Number.isFinite(s.d) && s.d > 0 ? s : false;
  }, 30000, 'the recording duration');
  log(`#   duration shown ${d.d.toFixed(2)} s at currentTime ${d.t.toFixed(2)} after ${Date.now() - t0} ms`);
  ok(Math.abs(d.d - REC_SECONDS) < 1.5, `duration ${d.d} s, expected about ${REC_SECONDS} s`);

  const p = await waitPlays(page, '#vod-video', 0.5, 30000);
  log(`#   playback started: first frame ${(p.firstFrameMs / 1000).toFixed(1)} s after Play answered`);
  const target = 0.8 * d.d;
  await page.evaluate((x) => { document.querySelector('#vod-video').currentTime = x; }, target);
  const s0 = Date.now();
  const after = await waitFor(async () => {
    await noFatal(page);
    const s = await videoState(page, '#vod-video');
    return s.t > target + 0.5 ? s.t : false;
  }, 30000, `currentTime past the seek point ${target.toFixed(2)} s`, 100);
  log(`#   seek to ${target.toFixed(2)} s (80%): currentTime ${after.toFixed(2)} after ${((Date.now() - s0) / 1000).toFixed(2)} s`);
  // The session offered both renditions; hls.js took the one this browser
  // decodes, and only that one was read.
  eq(JSON.stringify(res.variants), '["hevc","h264"]', 'renditions of the H.265 session');
  const picked = hevcDecodes ? 'hevc' : 'h264', other = hevcDecodes ? 'h264' : 'hevc';
  eq(await page.getAttribute('#vod-card', 'data-variant'), picked, 'rendition hls.js plays');
  ok(requests.some((u) => u.endsWith(`/${picked}.m3u8`)), `${picked}.m3u8 never requested`);
  ok(!requests.some((u) => u.endsWith(`/${other}.m3u8`) || u.endsWith(hevcDecodes ? '.ts' : '.m4s')),
    `the other rendition was read: ${requests.filter((u) => !u.endsWith('master.m3u8')).slice(0, 6).join(' ')}`);
  const status = await page.textContent('#vod-status');
  log(`#   status line: "${status}"`);
  ok(/segments loaded/.test(status), `no progress in the status line: "${status}"`);
  // Zooming to the selection makes the 30 s recording visible on the timeline.
  await page.click('#tl-fit');
  const zoomed = await (await page.$('[data-testid=rec-bar]')).boundingBox();
  log(`#   timeline fit to the selection (${await page.textContent('#tl-view')}): bar ${bar.width.toFixed(1)} px -> ${zoomed.width.toFixed(1)} px`);
  ok(zoomed.width > 100, `recording bar ${zoomed.width} px wide after Fit selection`);
  // Admins see the session with its progress.
  await page.waitForSelector(`#sessions-tbody tr[data-session-id="${res.session_id}"]`, { timeout: 10000 });
  await shot(page, 'recordings.png');

  // A range without recordings: the API's words reach the user.
  const empty0 = REC_START + 7200, empty1 = empty0 + 60;
  const api = await daemon.api('GET', `/api/transcode/cam1/start/${empty0}/end/${empty1}`, { token: ADMIN_TOKEN });
  ok(api.status >= 400 && api.json && api.json.message, `API answered ${api.status} ${api.text} for an empty range`);
  await page.fill('#rec-start', clock(empty0));
  await page.fill('#rec-end', clock(empty1));
  await page.click('#rec-play');
  const toast = await page.waitForSelector(`[data-testid=error-toast]:has-text(${JSON.stringify(api.json.message)})`, { timeout: 10000 });
  log(`#   empty range error shown: "${(await toast.textContent()).trim()}"`);
  await noFatal(page);
});

// A browser that decodes HEVC (Safari, Chrome/Edge with a hardware decoder)
// takes the copied rendition: hls.js is made to see HEVC as supported, and
// must then read only HEVC segments, so that no encoder starts.
test('hevc_capable_browser_reads_only_the_copy', async (t) => {
  const page = await newPage(t);
  await page.addInitScript(() => {
    const hevc = (ty) => /hvc1|hev1/.test(ty || '');
    const real = MediaSource.isTypeSupported.bind(MediaSource);
    MediaSource.isTypeSupported = (ty) => hevc(ty) || real(ty);
    // hls.js also asks MediaCapabilities before it picks a rendition.
    const mc = navigator.mediaCapabilities;
    if (mc && mc.decodingInfo) {
      const info = mc.decodingInfo.bind(mc);
      mc.decodingInfo = (cfg) => (cfg && cfg.video && hevc(cfg.video.contentType)
        ? Promise.resolve({ supported: true, smooth: true, powerEfficient: true })
        : info(cfg));
    }
  });
  const requests = recordRequests(page);
  // This Chromium only claims HEVC: appending the copy's init segment would
  // fail and hls.js would then fall back to the H.264 rendition (reading it
  // and starting its encoder) after a delay that depends on the machine's
  // load. The choice is made by then: the init segment requests are
  // recorded, then held unanswered (the player waits, as for a segment being
  // made), so nothing is appended and nothing falls back.
  await page.route(/\/stream\/transcode\/[^/]+\/[^/]*init\d+\.mp4$/, () => {});
  const before = await encodersStarted();
  await login(page, ADMIN_TOKEN, 'admin');
  await openRecordings(page, 'cam1');
  // Another range than the other test's: a session of its own.
  const res = await playRange(page, REC_START + 2, REC_START + 20);
  eq(JSON.stringify(res.variants), '["hevc","h264"]', 'renditions');
  await waitFor(async () => requests.some((u) => /init\d+\.mp4$/.test(u)), 30000,
    'an HEVC init segment request');
  eq(await page.getAttribute('#vod-card', 'data-variant'), 'hevc', 'rendition hls.js chose');
  ok(await page.isVisible('#hevc-badge'), 'the HEVC badge is hidden');
  const seen = requests.map((u) => u.split('/').pop());
  log(`#   requests: ${seen.join(' ')}`);
  ok(seen.includes('hevc.m3u8') && seen.some((f) => /init\d+\.mp4$/.test(f)), 'no HEVC playlist or init read');
  ok(!seen.some((f) => f === 'h264.m3u8' || f.endsWith('.ts')), 'the H.264 rendition was read');
  const st = await daemon.api('GET', `/api/transcode/${res.session_id}`, { token: ADMIN_TOKEN });
  const byName = Object.fromEntries(st.json.variants.map((v) => [v.variant, v]));
  eq(byName.h264.state, 'stopped', 'state of the H.264 rendition');
  eq(byName.h264.restarts, 0, 'H.264 workers started');
  eq(byName.hevc.encoder, 'copy', 'the HEVC worker\'s encoder');
  eq(await encodersStarted(), before, 'encoders started (hlsd_transcode_encoders_started_total)');
});

// The page shows the browser's local time: New York here, with a 23-hour
// day at the DST change and a range across midnight; UTC on request.
test('local_time_and_dst', async (t) => {
  const page = await newPage(t, 'America/New_York');
  await login(page, ADMIN_TOKEN, 'admin');
  await openRecordings(page, 'cam1'); // 2024-01-15: EST, UTC-05:00
  const zone = await page.textContent('#rec-zone');
  ok(/America\/New York, UTC−05:00/.test(zone), `zone shown: "${zone}"`);
  eq(await page.textContent('#rec-tbody tr td'), '05:00:00', 'recording start (10:00 UTC) in New York');
  eq(await page.inputValue('#rec-start'), '05:00:00', 'selection start');
  await page.fill('#rec-start', '05:00:02');
  await page.fill('#rec-end', '05:00:10');
  const resp = page.waitForResponse((r) => r.url().includes('/api/transcode/cam1/start/'), { timeout: 30000 });
  await page.click('#rec-play');
  const url = (await resp).url();
  ok(url.includes(`/start/${REC_START + 2}/end/${REC_START + 10}`), `local times sent as ${url}`);
  // The title is set once the page has handled the answer (after the response event).
  await waitFor(async () => /05:00:02 – 05:00:10 America\/New York/.test(await page.textContent('#vod-title')),
    10000, 'player title');
  // UTC on request: the same instants on the UTC clock.
  await page.selectOption('#rec-tz', 'utc');
  await waitFor(async () => (await page.inputValue('#rec-start')) === '10:00:02', 5000, 'the start in UTC');
  eq(await page.inputValue('#rec-end'), '10:00:10', 'the end in UTC');
  await waitFor(async () => (await page.textContent('#rec-tbody tr td')) === '10:00:00', 5000, 'the table in UTC');
  eq(await page.textContent('#rec-zone'), 'UTC', 'zone label');
  await page.selectOption('#rec-tz', 'local');

  // The spring-forward day has 23 hours: the 08:00 EDT recording sits 7/23
  // of the way along (midnight EST is 05:00 UTC), not 8/24.
  await page.selectOption('#rec-camera', 'cam3');
  await page.fill('#rec-date', DST_DAY);
  await page.dispatchEvent('#rec-date', 'change');
  await waitFor(async () => (await page.textContent('#rec-tbody tr td')) === '08:00:00', 10000, 'cam3 at 08:00 EDT');
  eq(await page.textContent('#tl-view'), 'whole day (23 h)', 'length of the DST day');
  const left = await page.$eval('[data-testid=rec-bar]', (e) => parseFloat(e.style.left));
  ok(Math.abs(left - (700 / 23)) < 0.05, `bar at ${left}% of the day, expected ${(700 / 23).toFixed(2)}%`);
  ok(/UTC−04:00/.test(await page.textContent('#rec-zone')), 'EDT offset after the change');
  // Across midnight: 23:30 to 00:30 is one hour, ending the next day.
  await page.fill('#rec-start', '23:30:00');
  await page.fill('#rec-end', '00:30:00');
  const len = await page.textContent('#range-length');
  ok(/^1:00:00 selected \(ends the next day\)/.test(len), `range across midnight: "${len}"`);
  await shot(page, 'local-time.png');
});

// Scrub thumbnails: hovering the recordings timeline shows the tile of the
// time under the pointer, from a sprite sheet that really loads; the same over
// the player's scrub bar (the VTT's session times).
async function thumbState(page, testid) {
  return page.evaluate((id) => {
    const el = document.querySelector(`[data-testid=${id}]`);
    if (!el || el.hidden) return null;
    const pic = el.querySelector('.thumb-pic');
    const cs = getComputedStyle(pic);
    return { sheet: el.dataset.sheet, xywh: el.dataset.xywh, bg: cs.backgroundImage,
      pos: cs.backgroundPosition, w: pic.offsetWidth, h: pic.offsetHeight,
      box: el.getBoundingClientRect().toJSON(), label: el.textContent };
  }, testid);
}

async function sheetSize(page, url) {
  return page.evaluate((u) => new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve({ w: img.naturalWidth, h: img.naturalHeight });
    img.onerror = () => resolve(null);
    img.src = u;
  }), url);
}

test('scrub_thumbnails', async (t) => {
  const page = await newPage(t);
  await login(page, ADMIN_TOKEN, 'admin');
  const thumbsApi = page.waitForResponse((r) => r.url().includes('/api/thumbnails/cam1/'), { timeout: 30000 });
  await openRecordings(page, 'cam1');
  await page.click('#tl-fit'); // the first recording is selected: 30 s become wide
  const api = await (await thumbsApi).json();
  log(`#   thumbnails: ${api.count} every ${api.interval} s, ${api.sheets} sheet(s)`);
  eq(api.count, REC_SECONDS, 'thumbnails of the 30 s recording');
  const bar = await (await page.$('[data-testid=rec-bar]')).boundingBox();
  ok(bar.width > 100, `recording bar ${bar.width} px`);
  // 15.5 s into the recording: thumbnail 15 (row 1, column 5 of sheet 0).
  const mx = bar.x + (15.5 / REC_SECONDS) * bar.width, my = bar.y + bar.height / 2;
  await page.mouse.move(mx - 30, my);
  await page.mouse.move(mx, my, { steps: 3 });
  const st = await waitFor(() => thumbState(page, 'timeline-thumb'), 15000, 'a timeline preview');
  log(`#   timeline preview: ${st.xywh} of ${st.sheet} at ${st.box.x.toFixed(0)}+${st.box.width.toFixed(0)} px ("${st.label}")`);
  eq(st.xywh, '800,90,160,90', 'tile under the pointer');
  ok(/\/sheet-0\.jpg$/.test(st.sheet), `sheet ${st.sheet}`);
  ok(st.bg.includes(st.sheet) && st.pos === '-800px -90px', `background ${st.bg} ${st.pos}`);
  eq(`${st.w}x${st.h}`, '160x90', 'preview size');
  ok(st.box.x <= mx && mx <= st.box.x + st.box.width && st.box.y + st.box.height <= my,
    `preview not above the pointer: ${JSON.stringify(st.box)} vs ${mx},${my}`);
  eq(st.label.trim(), clock(REC_START + 15), 'preview time');
  const size = await sheetSize(page, st.sheet);
  eq(JSON.stringify(size), JSON.stringify({ w: 1600, h: 270 }), 'sprite sheet loaded (30 tiles: 3 rows)');
  await shot(page, 'thumbs-timeline.png');
  await page.mouse.move(mx, my + 200);
  await waitFor(async () => (await thumbState(page, 'timeline-thumb')) === null, 5000, 'the preview to hide');
  // Panning and zooming a little asks for the same stable block again, not
  // a new range each time (each range would be a new set on the server).
  let asked = 0;
  const count = (r) => { if (r.url().includes('/api/thumbnails/')) asked++; };
  page.on('request', count);
  for (const id of ['#tl-left', '#tl-right', '#tl-right', '#tl-left']) {
    await page.click(id);
    await page.waitForTimeout(300);
  }
  await page.mouse.move(mx - 30, my);
  await page.mouse.move(mx, my, { steps: 3 });
  await waitFor(() => thumbState(page, 'timeline-thumb'), 15000, 'the preview after panning');
  page.off('request', count);
  eq(asked, 0, 'thumbnail requests while panning');
  await page.mouse.move(mx, my + 200);

  // The player's scrub bar: session time 16.5 s -> thumbnail 16.
  await playRange(page, REC_START, REC_START + REC_SECONDS);
  const d = await waitFor(async () => {
    const s = await videoState(page, '#vod-video');
    return Number.isFinite(s.d) && s.d > 0 ? s.d : false;
  }, 30000, 'the recording duration');
  // The page scrolls the player into view smoothly: wait until the bar stops
  // moving, then hover it (playwright scrolls it into the viewport first).
  let sb = null;
  const scrub = await page.$('#vod-scrub');
  await waitFor(async () => {
    const b = await scrub.boundingBox();
    const still = sb && b && b.x === sb.x && b.y === sb.y;
    sb = b;
    return still;
  }, 5000, 'the scrub bar to stay still', 150);
  await page.mouse.move(sb.x + 2, sb.y - 20);
  await scrub.hover({ position: { x: (16.5 / d) * sb.width, y: sb.height / 2 } });
  const ps = await waitFor(() => thumbState(page, 'player-thumb'), 15000, 'a player preview');
  log(`#   player preview: ${ps.xywh} of ${ps.sheet} ("${ps.label}")`);
  eq(ps.xywh, '960,90,160,90', 'tile under the pointer on the scrub bar');
  // The bar maps session time to the wall clock through the playlist's
  // PROGRAM-DATE-TIME (a copied session may start before the range).
  const wall = await page.evaluate(async () => {
    const m = await import('/web/thumbs.js');
    const hls = Object.values(window.hlsdDebug.players)[0];
    return m.hlsEpochAt(hls, 16.5);
  });
  ok(Math.abs(wall - (REC_START + 16.5)) < 0.05, `session 16.5 s at wall ${wall - REC_START} s`);
  ok(ps.bg.includes(ps.sheet), `player preview background ${ps.bg}`);
  eq(JSON.stringify(await sheetSize(page, ps.sheet)), JSON.stringify({ w: 1600, h: 270 }), 'player sprite sheet');
  await shot(page, 'thumbs-player.png');
  await noFatal(page);
});

test('passthrough_badge', async (t) => {
  const page = await newPage(t);
  await login(page, ADMIN_TOKEN, 'admin');
  await openRecordings(page, 'cam2');
  const res = await playRange(page, PASS_START, PASS_START + 6);
  eq(res.passthrough, true, 'passthrough for an H.264 + AAC recording');
  ok(await page.isVisible('#passthrough-badge'), 'passthrough badge hidden');
  const p = await waitPlays(page, '#vod-video', 1, 30000);
  log(`#   passthrough playback: first frame after ${(p.firstFrameMs / 1000).toFixed(1)} s`);
  await noFatal(page);
});

// Export MP4: the button starts the export of the selected range, shows its
// progress and then downloads the file under the name the server gives.
test('export_button_downloads_the_range', async (t) => {
  const page = await newPage(t);
  await login(page, VIEWER_TOKEN, 'viewer');
  await openRecordings(page, 'cam1');
  await page.fill('#rec-start', clock(REC_START + 2));
  await page.fill('#rec-end', clock(REC_START + 8));
  const download = page.waitForEvent('download', { timeout: 60000 });
  const t0 = Date.now();
  await page.click('#rec-export');
  const d = await download;
  log(`#   download after ${Date.now() - t0} ms: ${d.suggestedFilename()} (${await page.textContent('#rec-export-status')})`);
  eq(d.suggestedFilename(), 'cam1-2024-01-15_10-00-02Z.mp4', 'downloaded file name');
  const file = path.join(WORK, 'export.mp4');
  await d.saveAs(file);
  // Top-level boxes: a fast-start MP4 has its moov before the mdat.
  const buf = fs.readFileSync(file), boxes = [];
  for (let off = 0; off + 8 <= buf.length;) {
    const size = buf.readUInt32BE(off);
    boxes.push(buf.toString('latin1', off + 4, off + 8));
    if (size < 8) break;
    off += size;
  }
  eq(boxes[0], 'ftyp', `first box of ${JSON.stringify(boxes)}`);
  ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), `box order ${JSON.stringify(boxes)}`);
  ok(/Export ready/.test(await page.textContent('#rec-export-status')), 'status after the download');
  ok(!(await page.isDisabled('#rec-export')), 'the button is enabled again');
});

test('viewer_sees_no_admin_controls', async (t) => {
  const page = await newPage(t);
  await login(page, VIEWER_TOKEN, 'viewer');
  eq((await page.textContent('#user-role')).trim(), 'viewer', 'role shown');
  await page.waitForSelector(TILE0, { timeout: 10000 });
  ok(await page.isHidden(`${TILE0} [data-testid=port-start]`), 'viewer sees a Start button');
  ok(await page.isHidden('#stop-all'), 'viewer sees Stop all');
  await page.click('#tab-recordings');
  await waitFor(async () => (await page.$$eval('#rec-camera option', (o) => o.map((x) => x.value))).includes('cam1'),
    10000, 'cam1 in the viewer\'s list');
  const cams = await page.$$eval('#rec-camera option', (o) => o.map((x) => x.value));
  ok(!cams.includes('cam2'), `viewer sees cam2, which is not theirs: ${cams}`);
  ok(await page.isHidden('#sessions-card'), 'viewer sees the admin session list');
  // Viewers play their cameras and see the session's progress from its own status.
  await page.selectOption('#rec-camera', 'cam1');
  await page.fill('#rec-date', DAY);
  await page.waitForSelector('[data-testid=rec-bar]', { timeout: 10000 });
  await playRange(page, REC_START, REC_START + REC_SECONDS);
  await waitPlays(page, '#vod-video', 0.5, 30000);
  const status = await waitFor(async () => {
    const x = await page.textContent('#vod-status');
    return /transcoder \w+/.test(x) ? x : false;
  }, 10000, 'the transcoder state in the viewer\'s status line');
  log(`#   viewer status line: "${status}"`);
  await shot(page, 'viewer.png');
});

test('logout_returns_to_login', async (t) => {
  const page = await newPage(t);
  await login(page, ADMIN_TOKEN, 'admin');
  await page.click('#logout-button');
  await page.waitForSelector('#login-view:not([hidden])', { timeout: 10000 });
  await page.reload();
  await page.waitForSelector('#login-view:not([hidden])', { timeout: 10000 });
  ok(await page.isHidden('#user-box'), 'still signed in after logout and reload');
});

// ------------------------------------------------------------------ main
async function setup() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed (npm ci at the repository root installs it): ${e.message}`);
  }
  fs.mkdirSync(WORK, { recursive: true });
  // Old screenshots would pass for new ones: remove them (all of them on a full run).
  for (const f of fs.readdirSync(WORK)) {
    if (f.endsWith('.png') && (!opt.k || f.startsWith('FAIL-'))) fs.rmSync(path.join(WORK, f));
  }
  const media = path.join(WORK, 'media');
  // A keyframe every 2 s, as cameras record: the two renditions of its
  // session are cut on them.
  const h265 = makeMedia(media, `h265_320x180_${REC_SECONDS}s_k50.mp4`, [
    '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=25:duration=${REC_SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${REC_SECONDS}`,
    '-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-x265-params', 'log-level=error:keyint=50',
    '-tag:v', 'hvc1', '-c:a', 'aac', '-b:a', '64k', '-shortest']);
  const h264 = makeMedia(media, 'h264_320x180_6s.mp4', [
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=6',
    '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000:duration=6',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25',
    '-c:a', 'aac', '-b:a', '64k', '-shortest']);
  daemon = new Daemon({ hlsd: opt.hlsd, dir: freshDir(path.join(WORK, 'run')), config: config() });
  daemon.addRecording(h265, 'cam1', REC_START);
  daemon.addRecording(h264, 'cam2', PASS_START);
  // The index keys recordings by path: cam3 gets a copy of its own.
  const h264b = path.join(media, 'h264_320x180_6s_cam3.mp4');
  fs.copyFileSync(h264, h264b);
  daemon.addRecording(h264b, 'cam3', DST_START);
  await daemon.start();
  log(`# hlsd on ${daemon.base}, log ${daemon.logPath}`);
  chrome = await launchChromium(chromium);
}

await runTests(tests, opt.k, {
  setup,
  run: async (tc, t) => {
    t.contexts = [];
    t.pageErrors = [];
    await tc.fn(t);
    if (t.pageErrors.length) throw new Error(`uncaught errors in the page: ${t.pageErrors.join(' | ')}`);
  },
  onFail: async (tc, t) => {
    for (const ctx of t.contexts) {
      for (const pg of ctx.pages()) {
        try { await shot(pg, `FAIL-${tc.name}.png`); } catch { /* page gone */ }
      }
    }
  },
  afterEach: async (tc, t) => {
    for (const ctx of t.contexts) await ctx.close().catch(() => {});
  },
  shared: () => ({ daemon, chrome }),
});
