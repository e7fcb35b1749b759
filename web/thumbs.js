// Scrub thumbnails: GET /api/thumbnails/{camera}/start/{s}/end/{e} names a
// WebVTT thumbnails track (cues "sheet-K.jpg#xywh=x,y,w,h", the video.js /
// Plyr / Jellyfin convention) over JPEG sprite sheets. A preview is a div
// showing one tile of a sheet (background-image + background-position); the
// sheet request waits on the server until the worker has made it.
import { api, fmtClock } from './api.js';

// Parses a WebVTT thumbnails track: [{start, end, url, x, y, w, h}], times in
// seconds of the session timeline, url resolved against the VTT's own.
export function parseThumbsVtt(text, base) {
  const out = [];
  const lines = text.replace(/\r/g, '').split('\n');
  const secs = (s) => {
    const p = s.trim().split(':').map(Number);
    return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1];
  };
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\S+)\s+-->\s+(\S+)/.exec(lines[i]);
    if (!m || i + 1 >= lines.length) continue;
    const ref = lines[i + 1].trim();
    const h = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(ref);
    if (!h) continue;
    out.push({ start: secs(m[1]), end: secs(m[2]), url: new URL(h[1], base).href,
      x: +h[2], y: +h[3], w: +h[4], h: +h[5] });
  }
  return out;
}

// The thumbnails of camera's [start, end) (every `interval` s, or the
// server's default): {times, cues, interval, start, end} (times: epoch of
// each cue, in VTT order), or null when there are none.
export async function loadThumbs(camera, start, end, interval) {
  const q = interval ? `?interval=${interval}` : '';
  const res = await api('GET', `/api/thumbnails/${encodeURIComponent(camera)}/start/${Math.floor(start)}/end/${Math.ceil(end)}${q}`);
  const r = await fetch(res.vtt, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`thumbnails track: HTTP ${r.status}`);
  const base = new URL(res.vtt, window.location.href).href;
  const cues = parseThumbsVtt(await r.text(), base);
  return cues.length ? { times: res.times || [], cues, interval: Number(res.interval) || 0,
    start: Number(res.start), end: Number(res.end) } : null;
}

// Round steps, as the server's default interval: the timeline asks for one
// of these, so its requests repeat (and the server's cache serves them).
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
const TARGET = 300; // thumbnails across the visible span
const BLOCK = 1000; // thumbnails per block (the server allows 2000)

// The stable block of thumbnails to ask for when `span` seconds are visible
// around epoch t: the interval depends on the zoom only by steps, and the
// block is aligned on multiples of its own length, so panning and zooming a
// little ask for the same block again. Clipped to [lo, hi) (the recorded
// part of the day: at most a day, what the API allows).
export function thumbBlock(t, span, lo, hi) {
  const interval = STEPS.find((s) => span / s <= TARGET) || 3600;
  const len = interval * BLOCK;
  const a = Math.floor(t / len) * len;
  return { interval, start: Math.max(a, lo), end: Math.min(a + len, hi) };
}

// Index of the cue shown at epoch time t (the last picture at or before it,
// within one interval), or -1.
export function cueAtEpoch(th, t) {
  let lo = 0, hi = th.times.length - 1, k = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (th.times[mid] <= t) { k = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return k >= 0 && t < th.times[k] + th.interval ? k : -1;
}

// Index of the cue covering session time t, or -1.
export function cueAtTime(th, t) {
  return th.cues.findIndex((c) => t >= c.start && t < c.end);
}

// A preview box inside `container` (positioned), with the tile and a label.
export function createPreview(container, testid) {
  const el = document.createElement('div');
  el.className = 'thumb-preview';
  el.dataset.testid = testid;
  el.hidden = true;
  const pic = document.createElement('div');
  pic.className = 'thumb-pic';
  const label = document.createElement('span');
  label.className = 'thumb-label';
  el.append(pic, label);
  container.append(el);
  return {
    el,
    // Shows cue at x pixels from the container's left edge, centred and kept inside.
    show(cue, x, text) {
      pic.style.width = `${cue.w}px`;
      pic.style.height = `${cue.h}px`;
      pic.style.backgroundImage = `url("${cue.url}")`;
      pic.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      el.dataset.sheet = cue.url;
      el.dataset.xywh = `${cue.x},${cue.y},${cue.w},${cue.h}`;
      label.textContent = text;
      el.hidden = false;
      const max = container.clientWidth - cue.w - 8;
      el.style.left = `${Math.max(0, Math.min(max, x - cue.w / 2 - 4))}px`;
    },
    hide() { el.hidden = true; },
  };
}

export function labelAt(epoch) { return fmtClock(epoch); }

// Hover previews over the recordings timeline. epochAt(ev) gives the epoch
// time under the pointer. load(camera, t, span, lo, hi) asks for the block
// (thumbBlock) around t; blocks already loaded are kept (a few), and the
// pointer over another block loads that one.
export function initTimelineThumbs(timeline, epochAt) {
  const wrap = timeline.parentElement;
  const preview = createPreview(wrap, 'timeline-thumb');
  const cache = new Map(); // key -> thumbnails (null: none), most recent last
  let view = null, key = '';
  const keyOf = (b) => `${view.camera}|${b.interval}|${Math.floor(b.start)}|${Math.ceil(b.end)}`;
  async function fetchBlock(b) {
    const k = keyOf(b);
    if (cache.has(k)) return k;
    cache.set(k, undefined); // asked for: not again while it loads
    try {
      cache.set(k, await loadThumbs(view.camera, b.start, b.end, b.interval));
    } catch (e) {
      // Optional: the timeline works without them. Not asked again on every
      // pointer move, but again after a while.
      cache.set(k, null);
      setTimeout(() => { if (cache.get(k) === null) cache.delete(k); }, 10000);
      console.warn(`thumbnails of ${view.camera}: ${e.message}`);
    }
    while (cache.size > 8) cache.delete(cache.keys().next().value);
    return k;
  }
  timeline.addEventListener('pointermove', (ev) => {
    if (!view || ev.buttons) { preview.hide(); return; }
    const t = epochAt(ev);
    if (t >= view.lo && t < view.hi) {
      const b = thumbBlock(t, view.span, view.lo, view.hi);
      if (b.end > b.start) {
        key = keyOf(b);
        if (!cache.has(key)) fetchBlock(b);
      }
    }
    const th = cache.get(key);
    const k = th ? cueAtEpoch(th, t) : -1;
    if (k < 0) { preview.hide(); return; }
    const rect = wrap.getBoundingClientRect();
    preview.show(th.cues[k], ev.clientX - rect.left, labelAt(th.times[k]));
  });
  timeline.addEventListener('pointerleave', () => preview.hide());
  return {
    async load(camera, t, span, lo, hi) {
      if (!view || view.camera !== camera) cache.clear();
      preview.hide();
      view = camera && hi > lo ? { camera, span, lo, hi } : null;
      if (!view) return;
      const b = thumbBlock(t, span, lo, hi);
      if (b.end > b.start) key = await fetchBlock(b);
    },
  };
}

// The player's scrub bar: a bar under the video (played part, click to
// seek) with hover previews. The position is a session time; epochOf(t)
// turns it into the wall clock (the playlist's PROGRAM-DATE-TIME: a copied
// session starts at the keyframe before the range start, so session time 0
// is not the range start), and the API's times[] give the cue of that wall
// clock, whatever the offset.
export function initPlayerThumbs(bar, video, played, epochOf) {
  const preview = createPreview(bar.parentElement, 'player-thumb');
  let th = null, seq = 0, base = 0;
  const duration = () => (Number.isFinite(video.duration) && video.duration > 0 ? video.duration : 0);
  const timeAt = (ev) => {
    const rect = bar.getBoundingClientRect();
    return Math.max(0, Math.min(1, (ev.clientX - rect.left) / rect.width)) * duration();
  };
  let over = null; // the last pointer position over the bar, to show a preview once loaded
  const hover = (ev) => {
    if (!th || !duration()) { preview.hide(); return; }
    const t = timeAt(ev);
    const w = epochOf(t);
    const k = cueAtEpoch(th, Number.isFinite(w) ? w : base + t);
    if (k < 0) { preview.hide(); return; }
    const rect = bar.parentElement.getBoundingClientRect();
    preview.show(th.cues[k], ev.clientX - rect.left, labelAt(th.times[k]));
  };
  bar.addEventListener('pointermove', (ev) => { over = { clientX: ev.clientX }; hover(over); });
  bar.addEventListener('pointerleave', () => { over = null; preview.hide(); });
  bar.addEventListener('click', (ev) => { if (duration()) video.currentTime = timeAt(ev); });
  video.addEventListener('timeupdate', () => {
    played.style.width = `${duration() ? (100 * video.currentTime) / duration() : 0}%`;
  });
  return {
    async load(camera, start, end) {
      const mine = ++seq;
      th = null;
      base = start;
      preview.hide();
      try {
        const got = await loadThumbs(camera, start, end);
        if (mine === seq) {
          th = got;
          if (over) hover(over); // the pointer waited on the bar while they loaded
        }
      } catch (e) {
        console.warn(`thumbnails of ${camera}: ${e.message}`);
      }
    },
    clear() { seq++; th = null; preview.hide(); played.style.width = '0%'; },
  };
}

// Wall clock (epoch s) of session time t from an hls.js player's playlist
// (fragments carry programDateTime, ms), or NaN when it has none.
export function hlsEpochAt(hls, t) {
  const lv = hls && hls.levels && hls.levels[Math.max(0, hls.currentLevel)];
  const frags = lv && lv.details && lv.details.fragments;
  if (!frags || !frags.length) return NaN;
  let f = frags[0];
  for (const x of frags) if (x.start <= t) f = x; else break;
  return Number.isFinite(f.programDateTime) ? f.programDateTime / 1000 + (t - f.start) : NaN;
}
