// A service's page: header, then tabs API Keys | Candidates | Documents | Upload | Service users | Tokens | Access keys |
// Webhooks (admins) | Members | Audit | Usage.
import { api, canManageMembers, enc, isSysadmin, refreshSession, roleOn } from './api.js';
import { h } from './dom.js';
import { badge, button, errorPanel, loading } from './ui.js';
import { serviceDialog } from './services.js';
import { tabKeys } from './keys.js';
import { tabCandidates } from './candidates.js';
import { tabServiceUsers } from './serviceusers.js';
import { tabTokens } from './tokens.js';
import { tabAccessKeys } from './accesskeys.js';
import { tabMembers } from './members.js';
import { tabAudit } from './audit.js';
import { tabUsage } from './usage.js';
import { tabUpload } from './upload.js';
import { tabDocuments } from './documents.js';
import { tabWebhooks } from './webhooks.js';

const TABS = [
  ['keys', 'API Keys', tabKeys],
  ['candidates', 'Candidates', tabCandidates],
  ['documents', 'Documents', tabDocuments],
  ['upload', 'Upload', tabUpload],
  ['service-users', 'Service users', tabServiceUsers],
  ['tokens', 'Tokens', tabTokens],
  ['access-keys', 'Access keys', tabAccessKeys],
  ['webhooks', 'Webhooks', tabWebhooks, (svc) => canManageMembers(svc.id)],
  ['members', 'Members', tabMembers],
  ['audit', 'Audit', tabAudit],
  ['usage', 'Usage', tabUsage],
];
const ROLE_TEXT = { admin: 'You are an admin here', operator: 'You are an operator here', viewer: 'You can view this service' };

// The page currently shown, so that switching tabs only swaps the tab's panel.
let current = null;

// alive(): false once a newer route has started (app.js); then this one leaves the page alone.
export async function viewService(app, id, tabName, { focus, alive = () => true, sub } = {}) {
  const tab = TABS.find(([t]) => t === tabName) || TABS[0];
  if (!current || current.id !== id || !current.root.isConnected) {
    app.replaceChildren(loading('Loading service…'));
    const [svc] = await Promise.all([api('GET', `/api/v1/services/${enc(id)}`), refreshSession()]);
    if (!alive()) return;
    current = { id, svc, root: renderShell(svc), panel: null };
    app.replaceChildren(current.root);
    if (focus) current.root.querySelector('h1').focus();
  } else if (focus) {
    current.root.querySelector(`[data-tab="${tab[0]}"]`)?.focus();
  }
  await showTab(tab, sub);
}

function renderShell(svc) {
  const role = roleOn(svc.id);
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Service sections' },
    TABS.filter(([, , , show]) => !show || show(svc)).map(([t, label]) => h('a', { href: `#/services/${enc(svc.id)}/${t}`, dataset: { tab: t }, text: label })));
  return h('div', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/services', text: 'Services' }), h('span', { 'aria-hidden': 'true', text: ' / ' }),
      h('span', { 'aria-current': 'page', text: svc.name })),
    h('div', { class: 'pagehead' },
      h('div', { class: 'pagehead-text' },
        h('h1', { tabindex: -1 }, svc.name, ROLE_TEXT[role] ? h('span', { class: 'sr-only', text: ` (${ROLE_TEXT[role]})` }) : null),
        h('p', { class: 'muted', text: svc.description || 'No description' }),
        h('p', { class: 'meta' },
          h('span', {}, 'Keys start with ', h('code', { text: `${svc.keyPrefix}_` })),
          h('span', { class: 'mono muted', text: svc.id }),
          ROLE_TEXT[role] ? badge(ROLE_TEXT[role], 'role') : null)),
      isSysadmin() ? button('Edit service', {
        id: 'edit-service', dataset: { focusKey: 'edit-service' },
        onclick: () => serviceDialog(svc, { onSaved: () => { current = null; dispatchEvent(new HashChangeEvent('hashchange')); } }),
      }, 'secondary') : null),
    tabs,
    h('section', { class: 'tab-panel', id: 'tab-panel' }));
}

// sub: the item within the tab the hash names (a candidate's refId), or undefined.
async function showTab([name, label, render], sub) {
  const { root, svc } = current;
  for (const a of root.querySelectorAll('.tabs a')) {
    if (a.dataset.tab === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // On a narrow screen the tabs scroll sideways: keep the current one in view (without scrolling the page).
  const tabs = root.querySelector('.tabs');
  const cur = tabs.querySelector('[aria-current=page]');
  if (cur && (cur.offsetLeft < tabs.scrollLeft || cur.offsetLeft + cur.offsetWidth > tabs.scrollLeft + tabs.clientWidth)) {
    tabs.scrollLeft = Math.max(0, cur.offsetLeft - (tabs.clientWidth - cur.offsetWidth) / 2);
  }
  document.title = `${label} · ${svc.name} · keyward`;
  const panel = root.querySelector('#tab-panel');
  panel.setAttribute('aria-label', label);
  const body = h('div', { class: 'tab-body' }, loading());
  panel.replaceChildren(body);
  const reload = () => showTab([name, label, render], sub);
  try {
    await render(svc, body, reload, { sub });
  } catch (err) {
    if (err.status === 401) return; // the sign-in form has taken over
    body.replaceChildren(errorPanel(err, reload));
  }
}
