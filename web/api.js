// The JSON API client, error toasts and small formatting helpers shared by the views.

export const $ = (id) => document.getElementById(id);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let unauthorizedHandler = null;
// Called when a request other than the login itself answers 401 (session ended).
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

// Every error is JSON {"success":false,"message":"..."}: the message is what the user sees.
export async function api(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, `Cannot reach the server (${method} ${path}): ${e.message}`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok || (data && data.success === false)) {
    let msg = data && typeof data.message === 'string' && data.message
      ? data.message
      : `${method} ${path} failed: HTTP ${res.status} ${res.statusText}`.trim();
    if (!data && text && text.length < 200) msg += ` (${text.trim()})`;
    const err = new ApiError(res.status, msg);
    if (res.status === 401 && path !== '/api/login' && path !== '/api/me' && unauthorizedHandler) {
      unauthorizedHandler(err);
    }
    throw err;
  }
  return data ?? {};
}

// ---- toasts: errors stay until dismissed; the same text is counted, not repeated.
const toasts = new Map(); // key -> {el, count}

export function showError(message, key) {
  const k = key || message;
  const box = $('toasts');
  let t = toasts.get(k);
  if (t && t.el.isConnected) {
    t.count += 1;
    t.el.querySelector('.toast-text').textContent = message;
    t.el.querySelector('.toast-count').textContent = `×${t.count}`;
    return;
  }
  const el = document.createElement('div');
  el.className = 'toast';
  el.setAttribute('role', 'alert');
  el.dataset.testid = 'error-toast';
  const span = document.createElement('span');
  span.className = 'toast-text';
  span.textContent = message;
  const count = document.createElement('span');
  count.className = 'toast-count';
  const close = document.createElement('button');
  close.type = 'button';
  close.title = 'Dismiss';
  close.setAttribute('aria-label', 'Dismiss'); // the × is drawn by CSS, outside the message text
  close.addEventListener('click', () => clearError(k));
  el.append(span, count, close);
  box.append(el);
  toasts.set(k, { el, count: 1 });
  // Keep the stack short: the oldest goes first.
  while (box.children.length > 5) {
    const first = box.firstElementChild;
    for (const [kk, v] of toasts) if (v.el === first) toasts.delete(kk);
    first.remove();
  }
}

export function clearError(key) {
  const t = toasts.get(key);
  if (t) { t.el.remove(); toasts.delete(key); }
}

export function clearAllErrors() {
  for (const k of [...toasts.keys()]) clearError(k);
}

// ---- formatting. The index stores epoch seconds; the page shows them in the
// browser's local time zone (days of 23 or 25 hours across DST included) or,
// when chosen, in UTC. The choice is kept in localStorage.
const pad = (n) => String(n).padStart(2, '0');
const TZ_KEY = 'hlsd.timezone';
let utc = false;
try { utc = localStorage.getItem(TZ_KEY) === 'utc'; } catch { /* storage disabled */ }

export function useUtc() { return utc; }
export function setUseUtc(on) {
  utc = !!on;
  try { localStorage.setItem(TZ_KEY, utc ? 'utc' : 'local'); } catch { /* storage disabled */ }
}

// What the times are in, for labels: "UTC" or the zone's name and offset at t.
export function zoneLabel(epochSeconds = Date.now() / 1000) {
  if (utc) return 'UTC';
  const off = -new Date(epochSeconds * 1000).getTimezoneOffset();
  const name = (Intl.DateTimeFormat().resolvedOptions().timeZone || 'local').replace(/_/g, ' ');
  const sign = off < 0 ? '−' : '+';
  return `${name}, UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

function parts(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  return utc
    ? { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() }
    : { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(), mi: d.getMinutes(), s: d.getSeconds() };
}

export function fmtClock(epochSeconds) {
  const p = parts(epochSeconds);
  return `${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}`;
}

export function fmtDate(epochSeconds) {
  const p = parts(epochSeconds);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)}`;
}

// Epoch seconds of a wall-clock time of a day ("YYYY-MM-DD", seconds after
// its midnight as read on a clock). A local time skipped by DST lands after
// the jump, a repeated one on its first occurrence (the Date rules).
export function clockToEpoch(dateStr, secondsOfDay) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateStr || '');
  if (!m || !Number.isFinite(secondsOfDay)) return NaN;
  const h = Math.floor(secondsOfDay / 3600), mi = Math.floor((secondsOfDay % 3600) / 60);
  const s = secondsOfDay - h * 3600 - mi * 60;
  return (utc ? Date.UTC(+m[1], +m[2] - 1, +m[3], h, mi, s)
    : new Date(+m[1], +m[2] - 1, +m[3], h, mi, s).getTime()) / 1000;
}

// "YYYY-MM-DD" moved by n calendar days.
export function addDays(dateStr, n) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateStr || '');
  if (!m) return '';
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + n));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function fmtDuration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

// "HH:MM" or "HH:MM:SS" -> seconds of the day; NaN when malformed.
export function parseTimeOfDay(v) {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(v || '');
  if (!m) return NaN;
  const h = +m[1], mi = +m[2], s = m[3] ? +m[3] : 0;
  if (h > 23 || mi > 59 || s > 59) return NaN;
  return h * 3600 + mi * 60 + s;
}

// "YYYY-MM-DD" -> epoch seconds of its midnight (local or UTC); NaN when malformed.
export function dayStart(dateStr) {
  return clockToEpoch(dateStr, 0);
}

// Seconds in that day: 86400, or 82800 / 90000 on local DST days.
export function dayLength(dateStr) {
  return dayStart(addDays(dateStr, 1)) - dayStart(dateStr);
}

export function fmtBitrate(v) {
  if (v === undefined || v === null || v === '') return '–';
  if (typeof v === 'string' && !/^\d+(\.\d+)?$/.test(v)) return v; // already "5M"
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} Mb/s`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kb/s`;
  return `${Math.round(n)} b/s`;
}

export function fmtNumber(v, digits = 1) {
  if (v === undefined || v === null || v === '') return '–';
  const n = Number(v);
  return Number.isFinite(n) ? n.toFixed(digits) : String(v);
}

// First defined field among several possible names (the API is young).
export function pick(obj, ...names) {
  if (!obj) return undefined;
  for (const n of names) if (obj[n] !== undefined && obj[n] !== null) return obj[n];
  return undefined;
}
