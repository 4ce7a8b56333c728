// keyward console: a small single-page app over the keyward HTTP API. Plain ES modules, no framework, no build.
// Routes live in the URL hash: #/services, #/services/<id>/<tab>[/<item>], #/people, #/login.
import { session, refreshSession, logout, onSessionLost, isSysadmin } from './js/api.js';
import { errorPanel } from './js/ui.js';
import { viewLogin } from './js/login.js';
import { viewServices } from './js/services.js';
import { viewService } from './js/service.js';
import { viewPeople } from './js/people.js';
import { passwordDialog } from './js/account.js';

const app = document.getElementById('app');
let returnTo = null;
let routing = 0;

function parseHash() {
  return location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// Routes overlap: a hash change while a view is still loading starts a newer one. Each route gets
// alive(), true while it is the newest; a view checks it after every await before it writes the page, so
// an older route that finishes last cannot overwrite a newer one. <main> is aria-busy while any route runs.
let pending = 0;

async function route({ focus = false } = {}) {
  const seq = ++routing;
  const alive = () => seq === routing;
  pending++;
  app.setAttribute('aria-busy', 'true');
  try {
    await show(parseHash(), { focus, alive });
  } finally {
    if (--pending === 0) app.removeAttribute('aria-busy');
  }
}

async function show([page, id, tab, sub], { focus, alive }) {
  if (!session.user && !(await refreshSession())) {
    if (!alive()) return;
    if (page && page !== 'login') returnTo = location.hash;
    return showLogin();
  }
  if (!alive()) return;
  if (page === 'login') return navigate(returnTo || '#/services');
  const view = page === 'people' && isSysadmin() ? 'people' : 'services';
  updateChrome(view);
  try {
    if (view === 'services' && page === 'services' && id) await viewService(app, id, tab || 'keys', { focus, alive, sub });
    else if (view === 'people') await viewPeople(app, { focus, alive });
    else await viewServices(app, { focus, alive });
  } catch (err) {
    if (err.status === 401 || !alive()) return; // the sign-in form, or a newer route, has the page
    document.title = 'keyward';
    app.replaceChildren(errorPanel(err, () => route()));
  }
}

function showLogin(message) {
  updateChrome(null);
  document.title = 'Sign in · keyward';
  viewLogin(app, {
    message,
    onSignedIn: () => {
      const to = returnTo && !returnTo.startsWith('#/login') ? returnTo : '#/services';
      returnTo = null;
      if (location.hash === to) route({ focus: true });
      else location.hash = to;
    },
  });
}

onSessionLost(() => {
  if (location.hash && !location.hash.startsWith('#/login')) returnTo = location.hash;
  document.querySelectorAll('dialog').forEach((d) => d.close());
  showLogin('Your session has ended. Sign in again to continue.');
});

// ---------- top bar ----------
const ROLE_NAMES = { sysadmin: 'System Administrator', user: 'User' };

function updateChrome(page) {
  const signedIn = Boolean(session.user) && page !== null;
  document.getElementById('usermenu').hidden = !signedIn;
  document.getElementById('mainnav').hidden = !signedIn;
  if (!signedIn) return;
  const u = session.user;
  document.querySelector('[data-nav=people]').hidden = !isSysadmin();
  for (const a of document.querySelectorAll('#mainnav a')) {
    if (a.dataset.nav === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.querySelector('#userbtn .avatar').textContent = u.username.slice(0, 1).toUpperCase();
  document.querySelector('#userbtn .userbtn-name').textContent = u.username;
  document.getElementById('userbtn').setAttribute('aria-label', `Account: ${u.username}, ${ROLE_NAMES[u.role] || u.role}`);
  document.querySelector('.menu-user').textContent = `Signed in as ${u.username}`;
  document.querySelector('.menu-role').textContent = ROLE_NAMES[u.role] || u.role;
}

function setupUserMenu() {
  const btn = document.getElementById('userbtn');
  const list = document.getElementById('usermenu-list');
  const items = () => [...list.querySelectorAll('[role=menuitem]')];
  const isOpen = () => !list.hidden;
  function toggle(open, { focusButton = false } = {}) {
    list.hidden = !open;
    btn.setAttribute('aria-expanded', String(open));
    if (open) items()[0].focus();
    else if (focusButton) btn.focus();
  }
  btn.addEventListener('click', () => toggle(!isOpen()));
  btn.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); toggle(true); }
  });
  list.addEventListener('keydown', (e) => {
    const all = items();
    const i = all.indexOf(document.activeElement);
    if (e.key === 'Escape') { e.preventDefault(); toggle(false, { focusButton: true }); }
    else if (e.key === 'ArrowDown') { e.preventDefault(); all[(i + 1) % all.length].focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); all[(i - 1 + all.length) % all.length].focus(); }
    else if (e.key === 'Home') { e.preventDefault(); all[0].focus(); }
    else if (e.key === 'End') { e.preventDefault(); all[all.length - 1].focus(); }
    else if (e.key === 'Tab') toggle(false);
  });
  document.addEventListener('click', (e) => {
    if (isOpen() && !e.target.closest('#usermenu')) toggle(false);
  });
  document.getElementById('menu-password').addEventListener('click', () => {
    toggle(false, { focusButton: true });
    passwordDialog(() => {
      returnTo = location.hash;
      showLogin('Your password was changed. Sign in with the new one.');
    });
  });
  document.getElementById('menu-logout').addEventListener('click', async () => {
    toggle(false);
    await logout();
    returnTo = null;
    history.replaceState(null, '', '#/login');
    showLogin('You have been signed out.');
  });
}

// The skip link must not touch the hash: the hash is the route.
document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  (app.querySelector('h1') || app).focus();
});
window.addEventListener('hashchange', () => route({ focus: true }));
setupUserMenu();
route();
