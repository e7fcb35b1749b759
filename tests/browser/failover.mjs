#!/usr/bin/env node
// hls.js in Debian's Chromium plays a recording session through nginx while
// the node serving it is killed (driven by tests/integration/test_cluster.py):
//   node tests/browser/failover.mjs --base URL --playlist PATH --token T --until SECONDS
// Prints "ready" once playing (the caller then kills the node), and exits 0
// once currentTime passes --until with no fatal hls.js error, else 1.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Abort, launchChromium, log, waitFor } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HLSJS = path.join(ROOT, 'node_modules/hls.js/dist/hls.min.js');
const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' }, playlist: { type: 'string' }, token: { type: 'string' },
    until: { type: 'string', default: '30' },
  },
});
const PAGE = '<!doctype html><meta charset="utf-8"><video id="v" muted autoplay playsinline></video>';

const chrome = await launchChromium(chromium);
let code = 1;
try {
  const page = await chrome.browser.newPage();
  await page.route(`${opt.base}/__failover__.html`, (r) => r.fulfill({ body: PAGE, contentType: 'text/html' }));
  await page.goto(`${opt.base}/__failover__.html`);
  await page.addScriptTag({ path: HLSJS });
  await page.evaluate(({ url, token }) => {
    const v = document.getElementById('v');
    // A small buffer: most segments are still to be fetched when the node dies.
    const hls = new window.Hls({
      maxBufferLength: 4, maxMaxBufferLength: 6,
      xhrSetup: (xhr) => xhr.setRequestHeader('Authorization', `Bearer ${token}`),
    });
    window.fatal = [];
    window.errors = [];
    hls.on(window.Hls.Events.ERROR, (_e, d) => {
      (d.fatal ? window.fatal : window.errors).push(`${d.type}/${d.details}`);
    });
    hls.attachMedia(v);
    hls.loadSource(url);
    v.playbackRate = 4;
    v.play().catch(() => {});
  }, { url: `${opt.base}${opt.playlist}`, token: opt.token });
  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    return { t: v.currentTime, fatal: window.fatal, errors: window.errors, err: v.error && v.error.message };
  });
  const check = (s) => {
    if (s.fatal.length) throw new Abort(`fatal hls.js error: ${s.fatal.join(', ')}`);
    if (s.err) throw new Abort(`<video> error: ${s.err}`);
  };
  await waitFor(async () => { const s = await state(); check(s); return s.t > 3; }, 60000, 'playing', 100);
  log('ready');
  const until = Number(opt.until);
  const s = await waitFor(async () => { const x = await state(); check(x); return x.t > until && x; },
    120000, `currentTime > ${until}`, 200);
  log(`played to ${s.t.toFixed(1)} s; non-fatal errors: ${s.errors.join(', ') || 'none'}`);
  code = 0;
} catch (e) {
  log(`failed: ${e.message}`);
} finally {
  await chrome.close();
}
process.exit(code);
