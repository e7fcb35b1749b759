// hlsd web page: login, the view switch (#live / #recordings), the signed-in user.
import { $, api, onUnauthorized, showError, clearAllErrors } from './api.js';
import { initLive, setLiveAdmin, showLive, hideLive, resetLive } from './live.js';
import {
  initRecordings, setRecordingsAdmin, showRecordings, hideRecordings, resetRecordings,
} from './recordings.js';

const VIEWS = ['live', 'recordings'];
let me = null;

function setAdmin(admin) {
  document.body.classList.toggle('is-admin', admin);
  setLiveAdmin(admin);
  setRecordingsAdmin(admin);
}

function currentView() {
  const v = location.hash.replace(/^#/, '');
  return VIEWS.includes(v) ? v : 'live';
}

function showView(view) {
  if (!me) return;
  $('login-view').hidden = true;
  for (const v of VIEWS) {
    $(`${v}-view`).hidden = v !== view;
    $(`tab-${v}`).classList.toggle('active', v === view);
  }
  document.body.dataset.view = view;
  if (view === 'live') { hideRecordings(); showLive(); } else { hideLive(); showRecordings(); }
}

function showLogin(message) {
  me = null;
  hideLive();
  hideRecordings();
  resetLive();
  resetRecordings();
  setAdmin(false);
  for (const v of VIEWS) $(`${v}-view`).hidden = true;
  $('tabs').hidden = true;
  $('user-box').hidden = true;
  $('login-view').hidden = false;
  document.body.dataset.view = 'login';
  const err = $('login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('login-token').value = '';
  $('login-token').focus();
}

function enter(user) {
  me = user;
  const role = String(user.role || (user.admin ? 'admin' : 'viewer'));
  const admin = role === 'admin';
  setAdmin(admin);
  $('user-name').textContent = user.name || 'anonymous';
  $('user-role').textContent = role;
  $('user-role').classList.toggle('admin', admin);
  const cams = Array.isArray(user.cameras) && user.cameras.length ? user.cameras.join(', ') : 'all cameras';
  $('user-box').title = `${user.name || ''} (${role}) — ${cams}`;
  $('user-box').hidden = false;
  // With auth disabled there is no session to end.
  $('logout-button').hidden = user.auth === false || user.auth_enabled === false;
  $('tabs').hidden = false;
  initLive(admin);
  initRecordings(admin);
  showView(currentView());
}

async function whoAmI() {
  const data = await api('GET', '/api/me');
  return data.user || data;
}

async function boot() {
  onUnauthorized(() => {
    if (me) showLogin('Your session has ended. Please sign in again.');
  });
  $('login-form').addEventListener('submit', login);
  $('logout-button').addEventListener('click', logout);
  for (const v of VIEWS) $(`tab-${v}`).addEventListener('click', () => { location.hash = v; });
  window.addEventListener('hashchange', () => showView(currentView()));
  try {
    enter(await whoAmI());
  } catch (e) {
    if (e.status === 401) showLogin();
    else {
      showLogin(`The server did not say who you are: ${e.message}`);
      showError(`GET /api/me: ${e.message}`);
    }
  }
}

async function login(ev) {
  ev.preventDefault();
  const token = $('login-token').value.trim();
  const err = $('login-error');
  err.hidden = true;
  if (!token) {
    err.textContent = 'Enter a token.';
    err.hidden = false;
    return;
  }
  const btn = $('login-submit');
  btn.disabled = true;
  try {
    await api('POST', '/api/login', { token });
    const user = await whoAmI();
    clearAllErrors();
    enter(user);
  } catch (e) {
    err.textContent = e.status === 401 || e.status === 403
      ? `Sign-in refused: ${e.message}`
      : `Sign-in failed: ${e.message}`;
    err.hidden = false;
  } finally {
    btn.disabled = false;
  }
}

async function logout() {
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    showError(`Log out: ${e.message}`);
  }
  showLogin();
}

boot();
