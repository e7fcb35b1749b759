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

// The thumbnails of camera's [start, end): {times, cues, interval} (times:
// epoch of each cue, in VTT order), or null when there are none.
export async function loadThumbs(camera, start, end) {
  const res = await api('GET', `/api/thumbnails/${encodeURIComponent(camera)}/start/${Math.floor(start)}/end/${Math.ceil(end)}`);
  const r = await fetch(res.vtt, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`thumbnails track: HTTP ${r.status}`);
  const base = new URL(res.vtt, window.location.href).href;
  const cues = parseThumbsVtt(await r.text(), base);
  return cues.length ? { times: res.times || [], cues, interval: Number(res.interval) || 0 } : null;
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
// time under the pointer. load() fetches the thumbnails of a range (the
// visible part of the day), at most one request at a time, latest wins.
export function initTimelineThumbs(timeline, epochAt) {
  const wrap = timeline.parentElement;
  const preview = createPreview(wrap, 'timeline-thumb');
  let th = null, key = '', seq = 0;
  timeline.addEventListener('pointermove', (ev) => {
    const t = epochAt(ev);
    const k = th && !ev.buttons ? cueAtEpoch(th, t) : -1;
    if (k < 0) { preview.hide(); return; }
    const rect = wrap.getBoundingClientRect();
    preview.show(th.cues[k], ev.clientX - rect.left, labelAt(th.times[k]));
  });
  timeline.addEventListener('pointerleave', () => preview.hide());
  return {
    async load(camera, start, end) {
      const k = `${camera}|${Math.floor(start)}|${Math.ceil(end)}`;
      if (k === key) return;
      key = k;
      const mine = ++seq;
      th = null;
      preview.hide();
      if (!camera || !(end > start)) return;
      try {
        const got = await loadThumbs(camera, start, end);
        if (mine === seq) th = got;
      } catch (e) {
        // Optional: the timeline works without them.
        if (mine === seq) key = '';
        console.warn(`thumbnails of ${camera}: ${e.message}`);
      }
    },
  };
}

// The player's scrub bar: a bar under the video (played part, click to
// seek) with hover previews from the session's VTT (session timeline).
export function initPlayerThumbs(bar, video, played) {
  const preview = createPreview(bar.parentElement, 'player-thumb');
  let th = null, seq = 0, base = 0;
  const duration = () => (Number.isFinite(video.duration) && video.duration > 0 ? video.duration : 0);
  const timeAt = (ev) => {
    const rect = bar.getBoundingClientRect();
    return Math.max(0, Math.min(1, (ev.clientX - rect.left) / rect.width)) * duration();
  };
  bar.addEventListener('pointermove', (ev) => {
    const k = th && duration() ? cueAtTime(th, timeAt(ev)) : -1;
    if (k < 0) { preview.hide(); return; }
    const rect = bar.parentElement.getBoundingClientRect();
    preview.show(th.cues[k], ev.clientX - rect.left, labelAt(th.times[k] ?? base + th.cues[k].start));
  });
  bar.addEventListener('pointerleave', () => preview.hide());
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
        if (mine === seq) th = got;
      } catch (e) {
        console.warn(`thumbnails of ${camera}: ${e.message}`);
      }
    },
    clear() { seq++; th = null; preview.hide(); played.style.width = '0%'; },
  };
}
