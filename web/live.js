// Live view: a grid of ports polled every 2 s, a muted preview per running
// port, and one enlarged player in low-latency mode.
import { $, api, showError, clearError, fmtBitrate, fmtNumber, pick } from './api.js';
import { createPlayer, latencySeconds } from './player.js';

const POLL_MS = 2000;
const RETRY_MS = 5000;

let isAdmin = false;
let active = false;
let pollTimer = null;
let latencyTimer = null;
let polling = false;
const tiles = new Map(); // port index -> tile
let main = null;         // {index, player}

export function initLive(admin) {
  isAdmin = admin;
  $('stop-all').onclick = () => stopAll();
  $('main-player-close').onclick = () => closeMain();
}

export function setLiveAdmin(admin) { isAdmin = admin; }

export function showLive() {
  if (active) return;
  active = true;
  poll();
  latencyTimer = setInterval(updateLatencies, 1000);
}

// Leaving the view (or logging out) releases every player and connection.
export function hideLive() {
  active = false;
  clearTimeout(pollTimer);
  clearInterval(latencyTimer);
  pollTimer = latencyTimer = null;
  closeMain();
  for (const t of tiles.values()) stopTilePlayer(t);
}

export function resetLive() {
  hideLive();
  for (const t of tiles.values()) t.el.remove();
  tiles.clear();
}

async function poll() {
  if (!active || polling) return;
  polling = true;
  try {
    const data = await api('GET', '/api/ports');
    const ports = Array.isArray(data) ? data : (data.ports || []);
    // The list may carry only the basics; a running port's numbers come from its status.
    await Promise.all(ports.map(async (p) => {
      const needsStatus = isRunning(p) || (p.state && p.state !== 'stopped');
      if (needsStatus && p.fps === undefined && p.segments === undefined) {
        try {
          const st = await api('GET', `/api/ports/${encodeURIComponent(p.index)}/preview`);
          Object.assign(p, st.status || st);
        } catch (e) {
          if (e.status === 401) throw e;
          p.statusError = e.message;
        }
      }
    }));
    if (!active) return;
    render(ports);
    clearError('poll-ports');
    $('live-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (e.status !== 401) showError(`Port status: ${e.message}`, 'poll-ports');
  } finally {
    polling = false;
    if (active) {
      clearTimeout(pollTimer);
      pollTimer = setTimeout(poll, POLL_MS);
    }
  }
}

function isRunning(p) {
  return !!pick(p, 'previewing', 'running');
}

function portState(p) {
  if (p.state) return String(p.state);
  if (!isRunning(p)) return p.on_demand ? 'on demand' : 'stopped';
  if (p.last_error && (p.fps === 0 || p.fps === undefined)) return 'reconnecting';
  if (p.segments === 0) return 'starting';
  return 'running';
}

function render(ports) {
  const seen = new Set();
  ports.sort((a, b) => a.index - b.index);
  const grid = $('port-grid');
  ports.forEach((p, i) => {
    seen.add(p.index);
    let t = tiles.get(p.index);
    if (!t) {
      t = makeTile(p.index);
      tiles.set(p.index, t);
    }
    // Keep DOM order equal to the index order, without moving playing videos needlessly.
    if (grid.children[i] !== t.el) grid.insertBefore(t.el, grid.children[i] || null);
    updateTile(t, p);
  });
  for (const [idx, t] of tiles) {
    if (!seen.has(idx)) {
      stopTilePlayer(t);
      t.el.remove();
      tiles.delete(idx);
    }
  }
  $('ports-empty').hidden = ports.length > 0;
  if (main) {
    const p = ports.find((x) => x.index === main.index);
    if (!p || (!isRunning(p) && !p.on_demand)) {
      const name = p ? (p.name || p.index) : main.index;
      closeMain();
      showError(`Port ${name} is no longer running: the enlarged player was closed`, 'main-stopped');
    }
  }
}

function makeTile(index) {
  const el = $('tile-template').content.firstElementChild.cloneNode(true);
  const refs = {};
  el.querySelectorAll('[data-role]').forEach((n) => { refs[n.dataset.role] = n; });
  refs.videoEl = el.querySelector('video');
  el.dataset.portIndex = String(index);
  refs.videoEl.dataset.portIndex = String(index);
  const t = { index, el, refs, port: null, player: null, watching: false, retryAt: 0, playerError: '' };
  refs.start.onclick = () => startPort(t);
  refs.stop.onclick = () => stopPort(t);
  refs.watch.onclick = () => { t.watching = !t.watching; t.retryAt = 0; updateTile(t, t.port); };
  refs.enlarge.onclick = () => openMain(t);
  refs['video-box'].onclick = () => openMain(t);
  return t;
}

function updateTile(t, p) {
  t.port = p;
  const r = t.refs;
  r.name.textContent = p.name || `port ${p.index}`;
  const idx = document.createElement('small');
  idx.textContent = `#${p.index}`;
  r.name.append(idx);
  r.name.title = p.input ? `${p.input.format || ''} ${p.input.url || ''}`.trim() : '';
  const state = portState(p);
  r.state.textContent = state;
  r.state.className = `state ${state.replace(/\s+/g, '-')}`;
  t.el.dataset.state = state;
  const running = isRunning(p);
  r.fps.textContent = running ? fmtNumber(p.fps, 1) : '–';
  r.bitrate.textContent = running ? fmtBitrate(p.bitrate) : '–';
  r.restarts.textContent = p.restarts ?? '–';
  r.segments.textContent = running ? (p.segments ?? '–') : '–';
  const errors = [p.last_error, p.statusError, t.playerError && `Player: ${t.playerError}`].filter(Boolean);
  r.error.textContent = errors.join(' · ');
  r.error.hidden = errors.length === 0;
  r.start.hidden = !isAdmin || running;
  r.stop.hidden = !isAdmin || !running;
  // Watching an on-demand port is what keeps it running (its playlist
  // requests), so the grid plays one only when asked to.
  r.watch.hidden = !p.on_demand;
  r.watch.textContent = t.watching ? 'Stop watching' : 'Watch';
  r.enlarge.hidden = !running && !p.on_demand;

  const enlarged = main && main.index === t.index;
  // A fresh live port has no playlist until its first segment is written.
  const hasMedia = p.segments === undefined || p.segments > 0;
  const want = !enlarged && (p.on_demand ? t.watching : running && hasMedia);
  if (want && !t.player && Date.now() >= t.retryAt) startTilePlayer(t);
  if (!want && t.player) stopTilePlayer(t);
  r.placeholder.hidden = !!t.player || enlarged;
  r.placeholder.textContent = enlarged ? 'enlarged above'
    : p.on_demand && !t.watching ? `on demand${running ? ' (running)' : ''}: press Watch`
      : running || t.watching ? (hasMedia ? 'loading…' : 'starting…') : 'not running';
  if (enlarged) r.placeholder.hidden = false;
}

function playlistOf(p) {
  return pick(p, 'playlist', 'playlist_url') || `/hls/port_${p.index}.m3u8`;
}

function startTilePlayer(t) {
  t.playerError = '';
  t.player = createPlayer(t.refs.videoEl, playlistOf(t.port), {
    label: `port-${t.index}`,
    live: true,
    onFatal: (msg) => {
      t.playerError = msg;
      showError(`Port ${t.port.name || t.index}: ${msg}`, `player-${t.index}`);
      stopTilePlayer(t);
      t.retryAt = Date.now() + RETRY_MS; // the next poll tries again
      updateTile(t, t.port);
    },
    events: {
      FRAG_BUFFERED: () => {
        if (t.playerError) { t.playerError = ''; clearError(`player-${t.index}`); }
      },
    },
  });
}

function stopTilePlayer(t) {
  if (t.player) t.player.destroy();
  t.player = null;
  t.refs.latency.textContent = '';
  delete t.refs.videoEl.dataset.latency;
}

async function startPort(t) {
  t.refs.start.disabled = true;
  try {
    const st = await api('POST', `/api/ports/${t.index}/preview`);
    updateTile(t, Object.assign({}, t.port, st.status || st, { previewing: true }));
  } catch (e) {
    showError(`Start port ${t.port.name || t.index}: ${e.message}`);
  } finally {
    t.refs.start.disabled = false;
    poll();
  }
}

async function stopPort(t) {
  t.refs.stop.disabled = true;
  try {
    await api('DELETE', `/api/ports/${t.index}/preview`);
    if (main && main.index === t.index) closeMain();
    stopTilePlayer(t);
    updateTile(t, Object.assign({}, t.port, { previewing: false, running: false, state: undefined }));
  } catch (e) {
    showError(`Stop port ${t.port.name || t.index}: ${e.message}`);
  } finally {
    t.refs.stop.disabled = false;
    poll();
  }
}

async function stopAll() {
  try {
    await api('DELETE', '/api/previews');
    closeMain();
    for (const t of tiles.values()) stopTilePlayer(t);
  } catch (e) {
    showError(`Stop all: ${e.message}`);
  } finally {
    poll();
  }
}

function openMain(t) {
  const p = t.port;
  if (!p || (!isRunning(p) && !p.on_demand)) return;
  closeMain();
  stopTilePlayer(t); // one player per port: spare the connection budget
  $('main-player').hidden = false;
  $('main-player-title').textContent = `${p.name || 'port'} #${p.index}`;
  $('main-player-error').hidden = true;
  const video = $('main-video');
  video.dataset.portIndex = String(t.index);
  main = { index: t.index, player: null };
  $('main-player-mode').textContent = 'loading';
  main.player = createPlayer(video, playlistOf(p), {
    label: 'main',
    live: true,
    lowLatency: true,
    events: {
      // LL-HLS needs parts in the playlist; the badge says what the stream offers.
      LEVEL_LOADED: (_e, data) => {
        const d = data.details || {};
        const ll = (d.partList && d.partList.length > 0) || d.canBlockReload;
        $('main-player-mode').textContent = ll ? 'low latency' : 'standard HLS';
        $('main-player-mode').title = ll
          ? 'LL-HLS: parts and blocking playlist reloads'
          : 'This port serves plain HLS segments (no parts): latency follows the segment length';
      },
    },
    onFatal: (msg) => {
      $('main-player-error').textContent = msg;
      $('main-player-error').hidden = false;
      showError(`Enlarged player (${p.name || p.index}): ${msg}`, 'player-main');
    },
  });
  updateTile(t, p);
  $('main-player').scrollIntoView({ behavior: 'smooth', block: 'start' });
}

function closeMain() {
  if (!main) return;
  const idx = main.index;
  if (main.player) main.player.destroy();
  main = null;
  $('main-player').hidden = true;
  $('main-player-latency').textContent = '';
  const t = tiles.get(idx);
  if (t && t.port && active) updateTile(t, t.port);
}

function showLatency(el, dataEl, player) {
  const l = latencySeconds(player);
  if (l === null) { el.textContent = ''; delete dataEl.dataset.latency; return; }
  el.textContent = `${l.toFixed(1)} s behind live`;
  dataEl.dataset.latency = l.toFixed(3);
}

function updateLatencies() {
  for (const t of tiles.values()) if (t.player) showLatency(t.refs.latency, t.refs.videoEl, t.player);
  if (main && main.player) showLatency($('main-player-latency'), $('main-video'), main.player);
}
