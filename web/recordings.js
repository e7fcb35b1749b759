// Recordings view: camera + day (local time, or UTC when chosen; a DST day
// has 23 or 25 hours), a timeline of the day's recordings with gaps,
// range selection (drag or time inputs), playback through a transcode session,
// and its progress (admin: GET /api/transcode; otherwise from hls.js events);
// "Export MP4" downloads the range as one file (/api/export).
import {
  $, api, showError, clearError, fmtClock, fmtDate, fmtDuration,
  parseTimeOfDay, dayStart, dayLength, addDays, clockToEpoch, zoneLabel, useUtc, setUseUtc, pick,
} from './api.js';
import { createPlayer } from './player.js';
import { initTimelineThumbs, initPlayerThumbs, hlsEpochAt } from './thumbs.js';

const DAY = 86400;
const SESSIONS_POLL_MS = 2000;
const REFRESH_MS = 15000;

let isAdmin = false;
let active = false;
let cameras = [];
let recordings = []; // of the shown day: {start, end, ...raw}
let sel = null;      // {start, end} seconds of the shown day
let vod = null;      // {sessionId, camera, start, end, duration, player, frags, loaded, ...}
let sessionsTimer = null;
let refreshTimer = null;
let loadSeq = 0;
let selVersion = 0;  // bumped on every selection, so a late load does not override the user's

let initialized = false;
let timelineThumbs = null; // hover previews (thumbs.js)
let playerThumbs = null;

export function initRecordings(admin) {
  isAdmin = admin;
  if (initialized) return;
  initialized = true;
  $('rec-camera').onchange = () => { sel = null; rememberDefaultDay(); loadDay(); };
  $('rec-date').onchange = () => { $('rec-date').dataset.auto = '0'; sel = null; loadDay(); };
  $('rec-prev-day').onclick = () => shiftDay(-1);
  $('rec-next-day').onclick = () => shiftDay(1);
  $('rec-start').onchange = $('rec-end').onchange = () => selectionFromInputs();
  $('rec-start').oninput = $('rec-end').oninput = () => selectionFromInputs();
  $('range-form').onsubmit = (ev) => { ev.preventDefault(); play(); };
  $('rec-export').onclick = () => exportClip();
  $('vod-close').onclick = () => closeVod();
  $('vod-video').addEventListener('timeupdate', updatePlayhead);
  $('tl-zoom-in').onclick = () => zoom(1);
  $('tl-zoom-out').onclick = () => zoom(-1);
  $('tl-fit').onclick = () => fitSelection();
  $('tl-day').onclick = () => setView(dayLen() / 2, dayLen());
  $('rec-tz').value = useUtc() ? 'utc' : 'local';
  $('rec-tz').onchange = () => switchZone($('rec-tz').value === 'utc');
  showZone();
  $('tl-left').onclick = () => setView(view.from + view.span / 2 - view.span * 0.75, view.span);
  $('tl-right').onclick = () => setView(view.from + view.span / 2 + view.span * 0.75, view.span);
  initTimelineDrag();
  timelineThumbs = initTimelineThumbs($('timeline'), (ev) => {
    const rect = $('timeline').getBoundingClientRect();
    return currentDay() + view.from + Math.max(0, Math.min(1, (ev.clientX - rect.left) / rect.width)) * view.span;
  });
  playerThumbs = initPlayerThumbs($('vod-scrub'), $('vod-video'), $('vod-scrub-played'),
    (t) => (vod && vod.player ? hlsEpochAt(vod.player.hls, t) : NaN));
  drawAxis();
}

// Thumbnails over the recorded part of the day (the API allows at most
// vod.max_range, a day by default), in stable blocks (thumbs.js thumbBlock):
// the interval follows the visible recorded span by round steps.
function loadTimelineThumbs() {
  if (!timelineThumbs) return;
  const day = currentDay();
  if (!recordings.length || !Number.isFinite(day)) return;
  const lo = Math.max(day, recordings[0].start);
  const hi = Math.min(day + DAY, Math.max(...recordings.map((r) => r.end)));
  const a = Math.max(day + view.from, lo), b = Math.min(day + view.from + view.span, hi);
  timelineThumbs.load($('rec-camera').value, (a + b) / 2, Math.max(b - a, 1), lo, hi);
}

export function setRecordingsAdmin(admin) { isAdmin = admin; }

export async function showRecordings() {
  if (active) return;
  active = true;
  // Cameras and recordings appear as files are indexed: list them again at
  // every visit, and every REFRESH_MS while the view is shown.
  await loadCameras();
  pollSessions();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => { if (active) loadCameras(); }, REFRESH_MS);
}

export function hideRecordings() {
  active = false;
  clearInterval(refreshTimer);
  refreshTimer = null;
  clearTimeout(sessionsTimer);
  sessionsTimer = null;
  const v = $('vod-video');
  if (!v.paused) v.pause();
}

export function resetRecordings() {
  hideRecordings();
  closeVod();
  cameras = [];
  recordings = [];
  sel = null;
  $('rec-camera').replaceChildren();
}

// ---------------------------------------------------------------- cameras, day
async function loadCameras() {
  try {
    const data = await api('GET', '/api/cameras');
    const list = Array.isArray(data) ? data : (data.cameras || []);
    cameras = list.map((c) => (typeof c === 'string' ? { name: c } : c)).filter((c) => c && c.name);
  } catch (e) {
    showError(`Cameras: ${e.message}`, 'cameras');
    return;
  }
  clearError('cameras');
  const select = $('rec-camera');
  const previous = select.value;
  select.replaceChildren(...cameras.map((c) => {
    const o = document.createElement('option');
    o.value = c.name;
    o.textContent = c.name;
    return o;
  }));
  if (cameras.some((c) => c.name === previous)) select.value = previous;
  else sel = null;
  if (!cameras.length) {
    if (!$('rec-date').value) {
      $('rec-date').value = fmtDate(Date.now() / 1000);
      $('rec-date').dataset.auto = '1';
    }
    $('rec-summary').textContent = 'No camera has recordings yet.';
    renderDay();
    return;
  }
  rememberDefaultDay();
  loadDay();
}

// The day of the camera's latest recording when the API says it, else today.
function rememberDefaultDay() {
  const cam = cameras.find((c) => c.name === $('rec-camera').value);
  const last = Number(pick(cam, 'last', 'end', 'last_end', 'latest', 'end_time'));
  if (!$('rec-date').value || $('rec-date').dataset.auto === '1') {
    $('rec-date').value = fmtDate(Number.isFinite(last) && last > 0 ? last - 1 : Date.now() / 1000);
    $('rec-date').dataset.auto = '1';
  }
}

function shiftDay(n) {
  const d = dayStart($('rec-date').value);
  $('rec-date').value = addDays(Number.isFinite(d) ? $('rec-date').value : fmtDate(Date.now() / 1000), n);
  $('rec-date').dataset.auto = '0';
  sel = null;
  loadDay();
}

function currentDay() { return dayStart($('rec-date').value); }

// Length of the shown day in seconds (not always 86400 in local time).
function dayLen() {
  const n = dayLength($('rec-date').value);
  return Number.isFinite(n) && n > 0 ? n : DAY;
}

function showZone() {
  const z = zoneLabel(Number.isFinite(currentDay()) ? currentDay() + 43200 : undefined);
  $('rec-zone').textContent = z;
  $('rec-start').title = $('rec-end').title = `${z} time, HH:MM:SS`;
  const name = (Intl.DateTimeFormat().resolvedOptions().timeZone || '').replace(/_/g, ' ');
  $('rec-tz-local').textContent = name ? `Local (${name})` : 'Local';
}

// Local <-> UTC: the same instants stay selected, shown on the new clock.
function switchZone(toUtc) {
  const day = currentDay();
  const abs = sel && Number.isFinite(day) ? { start: day + sel.start, end: day + sel.end } : null;
  setUseUtc(toUtc);
  if (abs) $('rec-date').value = fmtDate(abs.start);
  showZone();
  const nd = currentDay();
  if (abs && Number.isFinite(nd)) {
    sel = { start: abs.start - nd, end: abs.end - nd };
    $('rec-start').value = fmtClock(abs.start);
    $('rec-end').value = fmtClock(abs.end);
  }
  view = { from: 0, span: dayLen() };
  loadDay();
  updatePlayhead();
  renderVodTitle();
  pollSessions();
}

async function loadDay() {
  const cam = $('rec-camera').value;
  const day = currentDay();
  showZone(); // the offset may differ from the previous day's (DST)
  if (view.from === 0 && view.span >= 23 * 3600) view = { from: 0, span: dayLen() };
  if (!cam || !Number.isFinite(day)) { recordings = []; renderDay(); return; }
  const seq = ++loadSeq;
  const selAtStart = selVersion;
  let data;
  try {
    data = await api('GET', `/api/recordings/${encodeURIComponent(cam)}?after=${day}&before=${day + dayLen()}`);
  } catch (e) {
    if (seq !== loadSeq) return;
    showError(`Recordings of ${cam}: ${e.message}`, 'recordings');
    recordings = [];
    renderDay();
    return;
  }
  if (seq !== loadSeq) return; // a newer choice is already loading
  clearError('recordings');
  const list = Array.isArray(data) ? data : (data.recordings || []);
  recordings = list.map((r) => {
    const start = Number(pick(r, 'start_time', 'start'));
    let end = Number(pick(r, 'end_time', 'end'));
    if (!Number.isFinite(end)) end = start + Number(pick(r, 'duration') || 0);
    return Object.assign({}, r, { start, end });
  }).filter((r) => Number.isFinite(r.start) && r.end > r.start).sort((a, b) => a.start - b.start);
  const gapsRaw = Array.isArray(data.gaps) ? data.gaps : [];
  const gaps = gapsRaw.map((g) => (Array.isArray(g)
    ? { start: +g[0], end: +g[1] }
    : { start: Number(pick(g, 'start_time', 'start', 'from')), end: Number(pick(g, 'end_time', 'end', 'to')) }))
    .filter((g) => Number.isFinite(g.start) && g.end > g.start);
  renderDay(gaps.length ? gaps : computeGaps(recordings));
  if (data.truncated) showError(`Recordings of ${cam}: the list of this day is truncated (too many recordings); the timeline is incomplete.`, 'recordings');
  // Start with the first recording of the day selected, unless the user chose a range.
  if (selVersion === selAtStart && !sel && recordings.length) selectRecording(recordings[0]);
  else drawSelection();
}

function computeGaps(recs) {
  const gaps = [];
  for (let i = 1; i < recs.length; i++) {
    const prevEnd = Math.max(...recs.slice(0, i).map((r) => r.end));
    if (recs[i].start - prevEnd > 0.5) gaps.push({ start: prevEnd, end: recs[i].start });
  }
  return gaps;
}

// ---------------------------------------------------------------- timeline
// The timeline shows [view.from, view.from + view.span] seconds of the day;
// zooming in makes short recordings and gaps visible.
const ZOOMS = [DAY, 6 * 3600, 3600, 600, 120];
let view = { from: 0, span: DAY };
let lastGaps = [];

function pos(sec) { return ((sec - view.from) / view.span) * 100; }
function pct(sec) { return `${Math.max(-1, Math.min(101, pos(sec)))}%`; }
function widthPct(a, b) { return `${Math.max(0, Math.min(101, pos(b)) - Math.max(-1, pos(a)))}%`; }

function setView(center, span) {
  span = Math.min(dayLen(), span);
  const from = Math.max(0, Math.min(dayLen() - span, center - span / 2));
  view = { from, span };
  renderDay(lastGaps);
}

function zoom(dir) {
  const i = ZOOMS.findIndex((z) => z <= view.span + 1);
  const next = ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, (i < 0 ? ZOOMS.length - 1 : i) + dir))];
  const center = sel && sel.end > sel.start && sel.start >= view.from && sel.end <= view.from + view.span
    ? (sel.start + sel.end) / 2 : view.from + view.span / 2;
  setView(center, next);
}

function fitSelection() {
  if (!sel || !(sel.end > sel.start)) { setView(dayLen() / 2, dayLen()); return; }
  const len = sel.end - sel.start;
  setView((sel.start + sel.end) / 2, Math.max(60, len * 1.5));
}

function drawAxis() {
  const day = Number.isFinite(currentDay()) ? currentDay() : 0, len = dayLen();
  const axis = $('timeline-axis');
  axis.replaceChildren();
  const steps = [10, 30, 60, 300, 600, 1800, 3600, 3 * 3600];
  const step = steps.find((x) => view.span / x <= 10) || 3 * 3600;
  const first = Math.ceil(view.from / step) * step;
  for (let t = first; t <= view.from + view.span + 0.001; t += step) {
    const s = document.createElement('span');
    s.style.left = `${pos(t)}%`;
    if (pos(t) < 3) s.style.transform = 'none';
    else if (pos(t) > 97) s.style.transform = 'translateX(-100%)';
    // The clock at that instant: across a DST change the labels jump as the
    // clock does (01:00, 03:00).
    const txt = fmtClock(day + Math.min(t, len - 1));
    s.textContent = t >= len ? '24:00' : step < 60 ? txt : txt.slice(0, 5);
    axis.append(s);
  }
  const cut = (x) => (view.span < 3600 ? fmtClock(day + x) : fmtClock(day + x).slice(0, 5));
  $('tl-view').textContent = view.span >= len ? `whole day (${Math.round(len / 3600)} h)`
    : `${cut(view.from)}–${cut(Math.min(view.from + view.span, len - 1))}`;
}

function renderDay(gaps = []) {
  lastGaps = gaps;
  drawAxis();
  const day = currentDay();
  const track = $('timeline-track');
  track.replaceChildren();
  const tbody = $('rec-tbody');
  tbody.replaceChildren();
  for (const g of gaps) {
    const el = document.createElement('div');
    el.className = 'gap-bar';
    el.dataset.testid = 'gap-bar';
    el.style.left = pct(g.start - day);
    el.style.width = widthPct(g.start - day, g.end - day);
    el.title = `gap ${fmtClock(g.start)} – ${fmtClock(g.end)} (${fmtDuration(g.end - g.start)})`;
    track.append(el);
  }
  for (const r of recordings) {
    const el = document.createElement('div');
    el.className = 'rec-bar';
    el.dataset.testid = 'rec-bar';
    el.style.left = pct(r.start - day);
    el.style.width = widthPct(r.start - day, r.end - day);
    el.title = `${fmtClock(r.start)} – ${fmtClock(r.end)} (${fmtDuration(r.end - r.start)})`;
    el.recording = r;
    track.append(el);

    const tr = document.createElement('tr');
    const vcodec = [pick(r, 'video_codec', 'vcodec'), r.width && r.height ? `${r.width}×${r.height}` : '']
      .filter(Boolean).join(' ');
    const cells = [fmtClock(r.start), fmtClock(r.end), fmtDuration(r.end - r.start), vcodec || '–',
      pick(r, 'audio_codec', 'acodec') || 'none'];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn btn-ghost';
    b.textContent = 'Select';
    b.onclick = () => selectRecording(r);
    td.append(b);
    tr.append(td);
    tbody.append(tr);
  }
  $('rec-empty').hidden = recordings.length > 0;
  const total = recordings.reduce((a, r) => a + Math.min(r.end, day + dayLen()) - Math.max(r.start, day), 0);
  $('rec-summary').textContent = cameras.length
    ? `${recordings.length} recording${recordings.length === 1 ? '' : 's'} · ${fmtDuration(total)} recorded · ${gaps.length} gap${gaps.length === 1 ? '' : 's'}`
    : 'No camera has recordings yet.';
  drawSelection();
  updatePlayhead();
  loadTimelineThumbs();
}

function selectRecording(r) {
  const day = currentDay();
  setSelection(Math.max(0, r.start - day), Math.min(dayLen() - 1, r.end - day));
}

function setSelection(a, b) {
  const len = dayLen(), day = currentDay();
  const s = Math.max(0, Math.min(a, b)), e = Math.min(len - 1, Math.max(a, b));
  sel = { start: Math.floor(s), end: Math.ceil(e) };
  selVersion += 1;
  if (sel.end <= sel.start) sel.end = Math.min(len - 1, sel.start + 1);
  $('rec-start').value = fmtClock(day + sel.start);
  $('rec-end').value = fmtClock(day + sel.end);
  drawSelection();
}

function selectionFromInputs() {
  const s = parseTimeOfDay($('rec-start').value.trim()), e = parseTimeOfDay($('rec-end').value.trim());
  const date = $('rec-date').value, day = currentDay();
  selVersion += 1;
  if (!Number.isFinite(s) || !Number.isFinite(e) || !Number.isFinite(day)) {
    sel = null;
    drawSelection();
    $('range-length').textContent = `times are ${zoneLabel()} clock times, as HH:MM:SS`;
    return false;
  }
  // Clock times of the shown day; an end at or before the start is on the
  // next day (a range across midnight).
  const a = clockToEpoch(date, s);
  let b = clockToEpoch(date, e);
  if (b <= a) b = clockToEpoch(addDays(date, 1), e);
  sel = { start: a - day, end: b - day, nextDay: b - day >= dayLen() };
  drawSelection();
  return true;
}

function drawSelection() {
  const el = $('timeline-selection');
  if (!sel || !(sel.end > sel.start)) {
    el.hidden = true;
    $('range-length').textContent = sel ? 'the end must be after the start' : '';
    return;
  }
  el.hidden = false;
  el.style.left = pct(sel.start);
  el.style.width = widthPct(sel.start, sel.end);
  const day = currentDay();
  const covered = recordings.reduce((a, r) => a + Math.max(0, Math.min(r.end, day + sel.end) - Math.max(r.start, day + sel.start)), 0);
  $('range-length').textContent = `${fmtDuration(sel.end - sel.start)} selected${sel.nextDay ? ' (ends the next day)' : ''}, ${fmtDuration(covered)} recorded`;
}

function initTimelineDrag() {
  const tl = $('timeline');
  let drag = null;
  const secAt = (ev) => {
    const rect = tl.getBoundingClientRect();
    return view.from + Math.max(0, Math.min(1, (ev.clientX - rect.left) / rect.width)) * view.span;
  };
  tl.addEventListener('pointerdown', (ev) => {
    if (ev.button !== 0) return;
    tl.setPointerCapture(ev.pointerId);
    drag = { x: ev.clientX, from: secAt(ev), moved: false, target: ev.target };
  });
  tl.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    if (!drag.moved && Math.abs(ev.clientX - drag.x) < 3) return;
    drag.moved = true;
    setSelection(drag.from, secAt(ev));
  });
  const end = (ev) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    if (d.moved) setSelection(d.from, secAt(ev));
    else if (d.target && d.target.recording) selectRecording(d.target.recording);
  };
  tl.addEventListener('pointerup', end);
  tl.addEventListener('pointercancel', () => { drag = null; });
}

function updatePlayhead() {
  const ph = $('timeline-playhead');
  if (!vod) { ph.hidden = true; return; }
  const v = $('vod-video');
  const pd = vod.player && vod.player.hls && vod.player.hls.playingDate;
  const t = pd ? pd.getTime() / 1000 : vod.start + (v.currentTime || 0);
  const off = t - currentDay();
  ph.hidden = !(vod.camera === $('rec-camera').value && off >= view.from && off <= view.from + view.span);
  ph.style.left = pct(off);
  $('vod-clock').textContent = `${fmtDate(t)} ${fmtClock(t)} ${zoneLabel(t)}`;
}

// ---------------------------------------------------------------- playback
// The chosen camera and range in epoch seconds, or null (the error shown).
function chosenRange() {
  const cam = $('rec-camera').value;
  const day = currentDay();
  const valid = selectionFromInputs();
  if (!cam) { showError('Choose a camera first.'); return null; }
  if (!valid) { showError(`Times must be ${zoneLabel()} clock times, as HH:MM:SS (for example 09:30:00).`); return null; }
  if (!Number.isFinite(day)) { showError('Choose a day first.'); return null; }
  if (!sel || !(sel.end > sel.start)) { showError('Choose a range: the end must be after the start.'); return null; }
  return { cam, start: day + sel.start, end: day + sel.end };
}

async function play() {
  const range = chosenRange();
  if (!range) return;
  const { cam, start, end } = range;
  const btn = $('rec-play');
  btn.disabled = true;
  let res;
  try {
    res = await api('GET', `/api/transcode/${encodeURIComponent(cam)}/start/${start}/end/${end}`);
  } catch (e) {
    showError(`Play ${cam} ${fmtClock(start)}–${fmtClock(end)}: ${e.message}`);
    return;
  } finally {
    btn.disabled = false;
  }
  openVod(cam, start, end, res);
}

// ---------------------------------------------------------------- export
// GET /api/export/... starts (or joins) the export and tells its progress;
// once done, the browser downloads the .mp4 (Content-Disposition names it).
const EXPORT_POLL_MS = 1000;
let exporting = false;

async function exportClip() {
  if (exporting) return;
  const range = chosenRange();
  if (!range) return;
  const { cam, start, end } = range;
  const path = `/api/export/${encodeURIComponent(cam)}/start/${start}/end/${end}`;
  const status = $('rec-export-status'), btn = $('rec-export');
  exporting = true;
  btn.disabled = true;
  clearError('export');
  try {
    for (;;) {
      const res = await api('GET', path);
      if (res.state === 'failed') throw new Error(res.error || 'the export failed');
      if (res.state === 'done') {
        status.textContent = `Export ready (${res.remux ? 'copied' : 'converted'})`;
        const a = document.createElement('a');
        a.href = res.download;
        a.download = res.file;
        document.body.appendChild(a);
        a.click();
        a.remove();
        break;
      }
      status.textContent = `Exporting… ${Math.floor(res.progress || 0)} %`;
      await new Promise((r) => setTimeout(r, EXPORT_POLL_MS));
    }
  } catch (e) {
    status.textContent = '';
    showError(`Export ${cam} ${fmtClock(start)}–${fmtClock(end)}: ${e.message}`, 'export');
  } finally {
    exporting = false;
    btn.disabled = false;
  }
}

function openVod(camera, start, end, res) {
  closeVod();
  const id = pick(res, 'session_id', 'id');
  const duration = Number(res.duration);
  vod = { sessionId: id, camera, start, end, duration, player: null, total: 0, loaded: new Set(),
    waiting: null, encoder: null, note: '' };
  $('vod-card').hidden = false;
  $('vod-card').dataset.sessionId = id || '';
  renderVodTitle();
  $('passthrough-badge').hidden = !res.passthrough;
  $('hevc-badge').hidden = true;
  $('vod-card').dataset.variant = '';
  $('vod-error').hidden = true;
  const v = $('vod-video');
  v.dataset.sessionId = id || '';
  const cur = vod;
  vod.player = createPlayer(v, res.playlist, {
    label: 'vod',
    live: false,
    onFatal: (msg) => {
      if (vod !== cur) return;
      $('vod-error').textContent = `Playback failed: ${msg}`;
      $('vod-error').hidden = false;
      showError(`Recording ${camera}: ${msg}`, 'player-vod');
    },
    onError: (msg, data) => {
      if (vod !== cur) return;
      if (data && data.details && data.details.startsWith('frag')) cur.note = `retrying: ${msg}`;
      renderVodStatus();
    },
    events: {
      LEVEL_LOADED: (_e, data) => { cur.total = data.details.fragments.length; renderVodStatus(); },
      // A two-variant session (HEVC recording): hls.js keeps the renditions
      // this browser decodes; show which one plays.
      LEVEL_SWITCHING: (_e, data) => {
        if (vod !== cur || !cur.player.hls) return;
        const level = cur.player.hls.levels[data.level];
        const hevc = !!(level && /^(hvc1|hev1)/.test(level.videoCodec || ''));
        $('vod-card').dataset.variant = hevc ? 'hevc' : 'h264';
        $('hevc-badge').hidden = !hevc;
      },
      FRAG_LOADING: (_e, data) => { cur.waiting = data.frag.sn; renderVodStatus(); },
      FRAG_LOADED: (_e, data) => {
        cur.loaded.add(data.frag.sn);
        if (cur.waiting === data.frag.sn) cur.waiting = null;
        cur.note = '';
        renderVodStatus();
      },
    },
  });
  if (playerThumbs) playerThumbs.load(camera, start, end);
  $('vod-card').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  renderVodStatus();
  pollSessions();
}

function renderVodTitle() {
  if (!vod) return;
  const { camera, start, end, duration } = vod;
  $('vod-title').textContent = `${camera} · ${fmtDate(start)} ${fmtClock(start)} – ${fmtClock(end)} ${zoneLabel(start)} · ${fmtDuration(Number.isFinite(duration) ? duration : end - start)}`;
}

function closeVod() {
  if (!vod) return;
  if (vod.player) vod.player.destroy();
  if (playerThumbs) playerThumbs.clear();
  vod = null;
  $('vod-card').hidden = true;
  clearError('player-vod');
  updatePlayhead();
}

function renderVodStatus() {
  if (!vod) return;
  const parts = [];
  let frac = null;
  const e = vod.encoder;
  if (e) {
    if (e.state) parts.push(`transcoder ${e.state}`);
    if (Number.isFinite(e.percent)) { parts.push(`${e.percent.toFixed(0)}% encoded`); frac = e.percent / 100; }
    if (Number.isFinite(e.segmentsReady) && Number.isFinite(e.segments)) parts.push(`${e.segmentsReady}/${e.segments} segments ready`);
    if (Number.isFinite(e.speed) && e.speed > 0) parts.push(`${e.speed.toFixed(1)}× real time`);
    if (e.error) parts.push(`error: ${e.error}`);
  }
  if (vod.total) {
    parts.push(`${vod.loaded.size}/${vod.total} segments loaded`);
    if (frac === null) frac = vod.loaded.size / vod.total;
  }
  if (vod.waiting !== null && vod.waiting !== undefined) parts.push(`waiting for segment ${vod.waiting}`);
  if (vod.note) parts.push(vod.note);
  $('vod-status').textContent = parts.join(' · ') || 'starting…';
  $('vod-progress-bar').style.width = `${Math.round(Math.max(0, Math.min(1, frac || 0)) * 100)}%`;
}

// ---------------------------------------------------------------- sessions (admin)
function sessionFields(s) {
  const prog = typeof s.progress === 'object' && s.progress ? s.progress : {};
  const percent = Number(pick(prog, 'percent') ?? pick(s, 'percent') ?? (typeof s.progress === 'number' ? s.progress : undefined));
  return {
    id: pick(s, 'session_id', 'id'),
    camera: s.camera,
    start: Number(pick(s, 'start', 'start_ts', 'start_time')),
    end: Number(pick(s, 'end', 'end_ts', 'end_time')),
    state: pick(s, 'state', 'status'),
    percent,
    speed: Number(pick(prog, 'speed') ?? pick(s, 'speed')),
    viewers: pick(s, 'viewers'),
    idle: Number(pick(s, 'idle_seconds', 'idle', 'idle_time')),
    passthrough: !!s.passthrough,
    segments: Number(pick(s, 'segments')),
    segmentsReady: Number(pick(s, 'segments_ready')),
    error: pick(s, 'last_error', 'error'),
  };
}

// Admins poll the list of sessions; everyone else polls the status of the
// session they watch (GET /api/transcode/{id}) while it is open.
async function pollSessions() {
  clearTimeout(sessionsTimer);
  sessionsTimer = null;
  if (!active) return;
  if (!isAdmin) {
    if (!vod || !vod.sessionId) return;
    const cur = vod;
    try {
      const data = await api('GET', `/api/transcode/${encodeURIComponent(cur.sessionId)}`);
      if (vod === cur) cur.encoder = sessionFields(data.session || data);
      clearError('sessions');
    } catch (e) {
      if (e.status === 401) return;
      if (vod === cur) cur.encoder = { state: e.status === 404 ? 'gone (stopped or expired)' : undefined, error: e.message };
    }
    renderVodStatus();
    if (active && vod) sessionsTimer = setTimeout(pollSessions, SESSIONS_POLL_MS);
    return;
  }
  try {
    const data = await api('GET', '/api/transcode');
    const list = (Array.isArray(data) ? data : (data.sessions || [])).map(sessionFields);
    clearError('sessions');
    renderSessions(list);
    $('sessions-count').textContent = Number.isFinite(data.active) && Number.isFinite(data.max_concurrent)
      ? `· ${data.active} of at most ${data.max_concurrent} active` : '';
    if (vod) {
      const mine = list.find((s) => s.id === vod.sessionId);
      vod.encoder = mine || { state: 'gone (stopped or expired)' };
      renderVodStatus();
    }
  } catch (e) {
    if (e.status !== 401) showError(`Transcode sessions: ${e.message}`, 'sessions');
  }
  if (active && isAdmin) sessionsTimer = setTimeout(pollSessions, SESSIONS_POLL_MS);
}

function renderSessions(list) {
  const tbody = $('sessions-tbody');
  tbody.replaceChildren();
  for (const s of list) {
    const tr = document.createElement('tr');
    tr.dataset.sessionId = s.id || '';
    const range = Number.isFinite(s.start) && Number.isFinite(s.end)
      ? `${fmtDate(s.start)} ${fmtClock(s.start)} – ${fmtClock(s.end)}` : '–';
    const progress = [Number.isFinite(s.percent) ? `${s.percent.toFixed(0)}%` : '',
      Number.isFinite(s.speed) && s.speed > 0 ? `${s.speed.toFixed(1)}×` : '',
      Number.isFinite(s.segmentsReady) && Number.isFinite(s.segments) ? `${s.segmentsReady}/${s.segments} seg.` : '',
      s.passthrough ? 'passthrough' : '']
      .filter(Boolean).join(' · ') || '–';
    const cells = [s.id || '–', s.camera || '–', range, s.error ? `${s.state || 'failed'}: ${s.error}` : (s.state || '–'),
      progress, s.viewers ?? '–', Number.isFinite(s.idle) ? fmtDuration(s.idle) : '–'];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      if (i === 0) {
        const code = document.createElement('code');
        code.textContent = c;
        td.append(code);
      } else td.textContent = c;
      tr.append(td);
    });
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn btn-danger';
    b.textContent = 'Stop';
    b.onclick = () => deleteSession(s.id);
    td.append(b);
    tr.append(td);
    tbody.append(tr);
  }
  $('sessions-empty').hidden = list.length > 0;
}

async function deleteSession(id) {
  try {
    await api('DELETE', `/api/transcode/${encodeURIComponent(id)}`);
    if (vod && vod.sessionId === id) closeVod();
  } catch (e) {
    showError(`Stop session ${id}: ${e.message}`);
  }
  pollSessions();
}
