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

// ---- formatting (all times UTC, as the recordings index stores them)
const pad = (n) => String(n).padStart(2, '0');

export function fmtClock(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export function fmtDate(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

export function fmtDuration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

export function fmtSecondsOfDay(sec) {
  const s = Math.max(0, Math.min(86399, Math.round(sec)));
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

// "HH:MM" or "HH:MM:SS" -> seconds of the day; NaN when malformed.
export function parseTimeOfDay(v) {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(v || '');
  if (!m) return NaN;
  const h = +m[1], mi = +m[2], s = m[3] ? +m[3] : 0;
  if (h > 23 || mi > 59 || s > 59) return NaN;
  return h * 3600 + mi * 60 + s;
}

// "YYYY-MM-DD" (UTC) -> epoch seconds of its midnight; NaN when malformed.
export function dayStart(dateStr) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateStr || '');
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3]) / 1000;
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
