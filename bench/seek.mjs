#!/usr/bin/env node
// Instant seek (issue 13): in headless Chromium, hls.js plays a recording's
// session from its start, then seeks to the middle of the (cold: nothing
// encoded there yet) 1080p H.265 recording; measured from the seek
// (video.currentTime = target) to playback resuming there: the `seeked`
// event, and the first frame presented at or after the target
// (requestVideoFrameCallback), whichever comes later. Each run uses a new
// session (the previous one is deleted: worker gone, segments removed).
//
// Scenarios, same daemon binary, same recording, alternating runs:
//   - each `--vod NAME=YAML` (a `vod:` block's extra keys, e.g. the settings
//     before this change) and `default` (the shipped defaults);
//   - the ffmpeg CLI of CONTEXT.md section 2, which cannot seek: the time
//     from its start until it has written the segment holding the target
//     (playlist polled every 0.1 s), as bench/vod.py (b) measures it.
// Prints a Markdown section (stdout); progress goes to stderr.
//   node bench/seek.mjs --hlsd build/hlsd --clip REC.mp4 [--runs 3] [--vod 'before={segment_seconds: 6}']
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Daemon, killGroup, launchChromium, run } from '../tests/browser/lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    hlsd: { type: 'string', default: 'build/hlsd' },
    clip: { type: 'string' },
    runs: { type: 'string', default: '3' },
    vod: { type: 'string', multiple: true, default: [] },
    'no-cli': { type: 'boolean', default: false },
    work: { type: 'string', default: '' },
  },
});
if (!opt.clip) throw new Error('--clip REC.mp4 is required');
const RUNS = Number(opt.runs);
const CLIP = path.resolve(opt.clip);
const WORK = opt.work ? path.resolve(opt.work) : fs.mkdtempSync(path.join(os.tmpdir(), 'hlsd-seek-'));
const HLSJS = path.join(ROOT, 'node_modules/hls.js/dist/hls.min.js');
const HLSJS_VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/hls.js/package.json'), 'utf8')).version;
const T0 = 1700000000; // the recording's start (epoch seconds)
const err = (...a) => console.error('#', ...a);
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
function median(a) {
  const s = a.filter(Number.isFinite).sort((x, y) => x - y);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const probe = JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,width,height',
  '-of', 'json', CLIP])).stdout);
const DURATION = Number(probe.format.duration);
const TARGET = Math.round(DURATION / 2 * 10) / 10 + 0.5; // the middle, half a second into a GOP

const scenarios = [
  ...opt.vod.map((s) => {
    const i = s.indexOf('=');
    return { name: s.slice(0, i), vod: s.slice(i + 1) };
  }),
  { name: 'default', vod: '{}' },
];

function config(vodExtra) {
  const extra = vodExtra.trim().replace(/^\{|\}$/g, '').trim();
  return `# written by bench/seek.mjs
ports: []
vod:
  sample_recording: false
${extra ? extra.split(/,\s*(?![^{]*\})/).map((kv) => `  ${kv.trim()}`).join('\n') + '\n' : ''}auth:
  enabled: false
`;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>seek</title>
<video id="v" muted autoplay playsinline style="width:640px"></video>`;

async function oneSeek(browser, d) {
  const rng = await d.api('GET', `/api/transcode/cam/start/${T0}/end/${T0 + Math.floor(DURATION)}`);
  if (rng.status !== 200) throw new Error(`session: ${rng.status} ${rng.text}`);
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  try {
    await page.route(`${d.base}/__seek__.html`, (r) => r.fulfill({ body: PAGE, contentType: 'text/html' }));
    await page.goto(`${d.base}/__seek__.html`);
    await page.addScriptTag({ path: HLSJS });
    const res = await page.evaluate(async ({ url, target }) => {
      const v = document.getElementById('v');
      const hls = new window.Hls();
      const fatal = [];
      hls.on(window.Hls.Events.ERROR, (_e, x) => { if (x.fatal) fatal.push(`${x.type}/${x.details}`); });
      hls.attachMedia(v);
      hls.loadSource(url);
      v.play().catch(() => {});
      const until = (cond, ms, what) => new Promise((res, rej) => {
        const t0 = performance.now();
        const tick = () => {
          if (fatal.length) return rej(new Error(`hls.js fatal: ${fatal.join(', ')}`));
          if (cond()) return res();
          if (performance.now() - t0 > ms) return rej(new Error(`timeout: ${what}`));
          setTimeout(tick, 10);
        };
        tick();
      });
      await until(() => v.currentTime > 1.0 && !v.paused, 30000, 'playing from the start');
      const level = hls.levels[hls.currentLevel] || hls.levels[0];
      const seeked = new Promise((res) => v.addEventListener('seeked', () => res(performance.now()), { once: true }));
      let frameAt = null;
      const onFrame = (now, meta) => {
        if (meta.mediaTime >= target - 0.05) frameAt = performance.now();
        else v.requestVideoFrameCallback(onFrame);
      };
      const t0 = performance.now();
      v.currentTime = target;
      v.requestVideoFrameCallback(onFrame);
      const seekedAt = await Promise.race([seeked, new Promise((r) => setTimeout(() => r(null), 30000))]);
      await until(() => frameAt !== null, 30000, 'a frame at the target');
      await until(() => v.currentTime > target + 0.2, 30000, 'playback going on after the seek');
      return {
        seeked: seekedAt === null ? null : (seekedAt - t0) / 1000,
        frame: (frameAt - t0) / 1000,
        codecs: level ? `${level.videoCodec}` : '?',
        fragDuration: (() => {
          const det = level && level.details;
          const fr = det && det.fragments.find((x) => x.start <= target && target < x.start + x.duration);
          return fr ? fr.duration : NaN;
        })(),
      };
    }, { url: `${d.base}${rng.json.playlist}`, target: TARGET });
    return res;
  } finally {
    await ctx.close();
    await d.api('DELETE', `/api/transcode/${rng.json.session_id}`);
  }
}

// The replaced CLI cannot seek: time until the segment holding TARGET exists.
async function cliSeek(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const p = spawn('nice', ['-n', '10', 'ffmpeg', '-hide_banner', '-loglevel', 'error', '-i', CLIP,
    '-vf', "scale=-2:'min(720,ih)'", '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '26', '-profile:v', 'high',
    '-level:v', '4.1', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '128k', '-f', 'hls', '-hls_time', '6',
    '-hls_list_size', '0', '-hls_segment_type', 'mpegts', '-hls_flags', 'independent_segments+append_list',
    '-hls_segment_filename', path.join(dir, 'segment-%d.ts'), path.join(dir, 'master.m3u8')],
  { stdio: 'ignore', detached: true });
  try {
    for (;;) {
      let txt = '';
      try { txt = fs.readFileSync(path.join(dir, 'master.m3u8'), 'utf8'); } catch { /* not yet */ }
      let t = 0;
      for (const m of txt.matchAll(/#EXTINF:([0-9.]+)/g)) {
        if (t <= TARGET && TARGET < t + Number(m[1])) return (performance.now() - t0) / 1000;
        t += Number(m[1]);
      }
      if (performance.now() - t0 > 600000) throw new Error('CLI: no segment with the target in 600 s');
      await sleep(100);
    }
  } finally {
    await killGroup(p.pid, 2000, 'ffmpeg');
  }
}

const daemons = {};
const chrome = await launchChromium(chromium);
const results = Object.fromEntries([...scenarios.map((s) => [s.name, []]), ['cli', []]]);
const info = {};
try {
  for (const s of scenarios) {
    const d = new Daemon({ hlsd: opt.hlsd, dir: path.join(WORK, s.name), config: config(s.vod) });
    await d.addRecording(CLIP, 'cam', T0);
    await d.start();
    daemons[s.name] = d;
  }
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 ? [...scenarios].reverse() : scenarios;
    for (const s of order) {
      const x = await oneSeek(chrome.browser, daemons[s.name]);
      err(`run ${r + 1} ${s.name}: seeked ${f(x.seeked)} s, frame at target ${f(x.frame)} s (${x.codecs}, fragment ${f(x.fragDuration, 3)} s)`);
      results[s.name].push(Math.max(x.seeked ?? x.frame, x.frame));
      info[s.name] = x;
    }
    if (!opt['no-cli']) {
      const c = await cliSeek(path.join(WORK, 'cli'));
      err(`run ${r + 1} cli: ${f(c)} s`);
      results.cli.push(c);
    }
  }
} finally {
  await chrome.close();
  for (const d of Object.values(daemons)) await d.stop();
}

const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/);
console.log(`Command: \`bench/seek.sh BUILD ${RUNS}\` (node bench/seek.mjs ${process.argv.slice(2).filter((a, i, all) => a !== "--hlsd" && a !== "--clip" && all[i - 1] !== "--hlsd" && all[i - 1] !== "--clip").join(" ")})`);
console.log('');
console.log(`- machine: ${os.cpus().length} cores, ${cpu ? cpu[1] : '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
console.log(`- date: ${new Date().toISOString().slice(0, 16)}Z; hls.js ${HLSJS_VERSION}; Debian chromium, headless`);
console.log(`- recording: ${path.basename(CLIP)}, ${f(DURATION, 1)} s ${probe.streams.map((x) => x.codec_name + (x.width ? ` ${x.width}x${x.height}` : '')).join(' + ')}; seek target ${TARGET} s`);
console.log('');
console.log(`| | seek → playing at the target, s (median of ${RUNS}) | runs s | video codec played | fragment holding the target, s |`);
console.log('|---|---|---|---|---|');
for (const s of scenarios) {
  console.log(`| hlsd, ${s.name === 'default' ? 'shipped defaults' : `${s.name} \`${s.vod}\``} | ${f(median(results[s.name]))} | ${results[s.name].map((x) => f(x)).join(', ')} | ${info[s.name]?.codecs} | ${f(info[s.name]?.fragDuration, 3)} |`);
}
if (!opt['no-cli']) {
  console.log(`| ffmpeg CLI (cannot seek: start → segment holding the target written) | ${f(median(results.cli))} | ${results.cli.map((x) => f(x)).join(', ')} | h264 | 8.333 |`);
}
