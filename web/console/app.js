// keyward console: a small single-page app over the keyward HTTP API. No framework, no build step.
// Everything from the server is inserted with textContent, never as HTML.

const state = { csrf: sessionStorage.getItem('kw-csrf'), user: null };
const app = document.getElementById('app');

const SCOPES = [
  ['metadata', 'Return only metadata', 'Only return status and ID of the users.'],
  ['attributes', 'Return metadata and identity attributes except pictures',
    'Include text-only identity attributes in the API responses.'],
  ['attributes_pictures', 'Return metadata and identity attributes including pictures',
    'Include all identity attributes, including images of document, selfie and proof of address.'],
];
const SCOPE_LABEL = Object.fromEntries(SCOPES.map(([v, l]) => [v, l.replace(/^Return /, '')]));

// ---------- DOM helpers ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'hidden' || k === 'checked' || k === 'disabled' || k === 'required' || k === 'selected') el[k] = Boolean(v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const fmtTime = (t) => (t ? new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—');
function toast(msg) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 3500);
}

// ---------- API ----------
class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `Request failed (${status})`);
    this.status = status;
    this.problem = problem || {};
  }
}
async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, { detail: 'keyward cannot be reached. Check that the server is running.' });
  }
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (r.status === 401 && path !== '/api/v1/session') {
    state.user = null;
    location.hash = '#/login';
  }
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

// Shows an API error in words: under the field it names, else at the top of the form.
function showError(form, err) {
  form.querySelectorAll('.field-error, .form-error').forEach((e) => e.remove());
  const field = err.problem?.field && form.querySelector(`[name="${CSS.escape(err.problem.field)}"]`);
  const msg = err.message || 'Something went wrong.';
  if (field) {
    const box = field.closest('.field') || field.parentElement;
    box.append(h('div', { class: 'field-error', role: 'alert', text: msg }));
    field.focus();
  } else {
    form.prepend(h('div', { class: 'form-error', role: 'alert', text: msg }));
  }
}

// ---------- session ----------
const isSys = () => state.user?.role === 'sysadmin';
const roleOn = (serviceId) =>
  isSys() ? 'admin' : (state.user?.memberships || []).find((m) => m.serviceId === serviceId)?.role || null;

function setSession(s) {
  state.csrf = s.csrfToken;
  state.user = s.user;
  sessionStorage.setItem('kw-csrf', s.csrfToken);
  const menu = document.getElementById('usermenu');
  menu.hidden = false;
  document.getElementById('userbtn').replaceChildren(h('span', { text: s.user.username }),
    h('span', { class: 'hide-sm muted', text: ` · ${s.user.role === 'sysadmin' ? 'System Administrator' : 'User'}` }), ' ▾');
}
async function loadSession() {
  try {
    setSession(await api('GET', '/api/v1/session'));
    return true;
  } catch {
    return false;
  }
}

// ---------- dialogs ----------
function dialog(title, ...content) {
  const d = h('dialog', { 'aria-label': title }, ...content);
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}
function confirmDialog(title, text, action, danger = true) {
  return new Promise((resolve) => {
    const d = dialog(title, h('div', { class: 'body' }, h('h2', { text: title }), h('p', { text }),
      h('div', { class: 'actions' },
        h('button', { class: 'secondary', type: 'button', onclick: () => { d.close(); resolve(false); } }, 'Cancel'),
        h('button', { class: danger ? 'danger' : '', type: 'button', onclick: () => { d.close(); resolve(true); } }, action))));
  });
}

// Shows a secret once, with Copy and the warning that it will not be shown again.
function secretDialog(title, secret, note) {
  const input = h('input', { type: 'text', readonly: true, value: secret, 'aria-label': 'API key', id: 'secret-value' });
  const copy = h('button', { type: 'button', class: 'secondary', id: 'copy-secret', onclick: async () => {
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      input.select();
      document.execCommand('copy');
    }
    copy.textContent = 'Copied';
    toast('Copied to the clipboard');
  } }, 'Copy');
  const d = dialog(title, h('div', { class: 'body' },
    h('h2', { text: title }), note ? h('p', { class: 'muted', text: note }) : null,
    h('div', { class: 'secret' }, input, copy),
    h('div', { class: 'warning', role: 'note' }, '⚠️ The API key is displayed only now. Copy it before closing this dialog: it will not be shown again.'),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => d.close() }, 'Done'))));
  input.addEventListener('focus', () => input.select());
  return new Promise((resolve) => d.addEventListener('close', resolve));
}

// ---------- views ----------
function viewLogin() {
  document.getElementById('usermenu').hidden = true;
  const form = h('form', { class: 'card', novalidate: true },
    h('h1', { text: 'Sign in' }), h('p', { class: 'muted', text: 'keyward console for people. Machines use API keys.' }),
    h('div', { class: 'field' }, h('label', { for: 'username', text: 'Username' }),
      h('input', { type: 'text', id: 'username', name: 'username', autocomplete: 'username', required: true })),
    h('div', { class: 'field' }, h('label', { for: 'password', text: 'Password' }),
      h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', required: true })),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'login-submit' }, 'Sign in')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      setSession(await api('POST', '/api/v1/session', { username: form.username.value, password: form.password.value }));
      location.hash = '#/services';
    } catch (err) {
      if (err.status === 429) err.message = `${err.message} Your account is locked for a while after too many attempts.`;
      showError(form, err);
    }
  });
  app.replaceChildren(h('div', { class: 'login' }, form));
  form.username.focus();
}

async function viewServices() {
  const page = h('div');
  const head = h('div', { class: 'pagehead' },
    h('div', {}, h('h1', { text: 'Services' }), h('p', { class: 'muted', text: 'Each service has its own API keys, members and audit trail.' })),
    isSys() ? h('button', { id: 'create-service', onclick: () => serviceDialog() }, 'Create service') : null);
  page.append(head);
  app.replaceChildren(page);
  const list = await api('GET', '/api/v1/services?limit=200');
  if (!list.items.length) {
    page.append(h('div', { class: 'card empty' }, isSys() ? 'No services yet. Create one to issue API keys.' : 'You are not a member of any service yet.'));
    return;
  }
  page.append(h('div', { class: 'services' }, list.items.map((s) => h('a', { class: 'card', href: `#/services/${s.id}/keys` },
    h('div', { class: 'name', text: s.name }),
    h('div', { class: 'muted', text: s.description || 'No description' }),
    h('div', { class: 'muted mono', text: `${s.id} · prefix ${s.keyPrefix}` })))));
}

function serviceDialog(svc) {
  const form = h('form', { method: 'dialog', novalidate: true },
    h('h2', { text: svc ? 'Edit service' : 'Create service' }),
    h('div', { class: 'field' }, h('label', { for: 'svc-name', text: 'Name' }), h('input', { type: 'text', id: 'svc-name', name: 'name', value: svc?.name || '' })),
    h('div', { class: 'field' }, h('label', { for: 'svc-desc', text: 'Description' }), h('input', { type: 'text', id: 'svc-desc', name: 'description', value: svc?.description || '' })),
    h('div', { class: 'field' }, h('label', { for: 'svc-prefix' }, 'Key prefix', h('div', { class: 'hint', text: 'New keys start with it, e.g. acme_… (a-z, 0-9).' })),
      h('input', { type: 'text', id: 'svc-prefix', name: 'keyPrefix', value: svc?.keyPrefix || 'kw' })),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => d.close() }, 'Cancel'),
      h('button', { type: 'submit' }, svc ? 'Update' : 'Create')));
  const d = dialog(svc ? 'Edit service' : 'Create service', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { name: form.name.value, description: form.description.value, keyPrefix: form.keyPrefix.value };
    try {
      const s = svc ? await api('PATCH', `/api/v1/services/${svc.id}`, body) : await api('POST', '/api/v1/services', body);
      d.close();
      location.hash = `#/services/${s.id}/keys`;
      route();
    } catch (err) { showError(form, err); }
  });
}

const TABS = [['keys', 'API Keys'], ['members', 'Members'], ['audit', 'Audit'], ['usage', 'Usage']];

async function viewService(id, tab) {
  const svc = await api('GET', `/api/v1/services/${id}`);
  const body = h('div');
  app.replaceChildren(h('div', {},
    h('div', { class: 'pagehead' },
      h('div', {}, h('a', { href: '#/services', text: '← Services' }), h('h1', { text: svc.name }),
        h('p', { class: 'muted', text: svc.description || `Keys start with ${svc.keyPrefix}_` })),
      isSys() ? h('button', { class: 'secondary', onclick: () => serviceDialog(svc) }, 'Edit service') : null),
    h('nav', { class: 'tabs', 'aria-label': 'Service sections' }, TABS.map(([t, label]) =>
      h('a', { href: `#/services/${id}/${t}`, 'aria-current': t === tab ? 'page' : null, text: label }))),
    body));
  const views = { keys: tabKeys, members: tabMembers, audit: tabAudit, usage: tabUsage };
  await (views[tab] || tabKeys)(svc, body);
}

// ----- API Keys tab (seed 000) -----
async function tabKeys(svc, body) {
  const head = h('div', { class: 'pagehead' },
    h('p', { class: 'muted', text: 'Keys let your systems extract and archive candidate information. Click a row to edit it.' }),
    isSys() ? h('button', { id: 'create-key', onclick: () => createKeyDialog(svc) }, 'Create API key') : null);
  const keys = await api('GET', `/api/v1/services/${svc.id}/keys?limit=200`);
  const rows = keys.items.map((k) => {
    const tr = h('tr', { class: 'clickable', tabindex: 0, 'data-key-id': k.id, onclick: () => editKeyDialog(svc, k),
      onkeydown: (e) => { if (e.key === 'Enter') editKeyDialog(svc, k); } },
      h('td', {}, k.description || h('span', { class: 'muted', text: '(no description)' })),
      h('td', { class: 'mono', text: `${k.start}…` }),
      h('td', { class: 'hide-sm', text: SCOPE_LABEL[k.scope] }),
      h('td', {}, h('span', { class: `badge ${k.status}`, text: k.status })),
      h('td', { class: 'hide-sm', text: fmtTime(k.createdAt) }),
      h('td', { class: 'hide-sm', text: fmtTime(k.lastUsedAt) }));
    return tr;
  });
  body.replaceChildren(head, h('div', { class: 'card' }, rows.length
    ? h('div', { class: 'table-wrap' }, h('table', { id: 'keys-table' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Description' }), h('th', { text: 'Key' }), h('th', { class: 'hide-sm', text: 'Scope' }),
        h('th', { text: 'Status' }), h('th', { class: 'hide-sm', text: 'Created' }), h('th', { class: 'hide-sm', text: 'Last used' }))),
      h('tbody', {}, rows)))
    : h('div', { class: 'empty', text: 'No API keys yet.' })));
}

function scopeChoices(current) {
  return h('fieldset', { class: 'field', 'aria-label': 'Scope' },
    SCOPES.map(([v, label, expl]) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'scope', value: v, checked: v === current }),
      h('span', {}, h('strong', { text: label }), h('span', { class: 'hint', text: expl })))));
}

function archiveFields(k) {
  const on = k && k.archiveAfterExtractSeconds !== null && k.archiveAfterExtractSeconds !== undefined;
  const hours = on ? k.archiveAfterExtractSeconds / 3600 : 24;
  return h('div', { class: 'field' },
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'archive', checked: on }), 'Archive the candidate after extract'),
    h('div', { class: 'hint', text: 'Deletes the candidate\'s personal attributes from the dashboard this long after the API returned them. Leave unchecked to keep them.' }),
    h('label', { for: 'archive-hours', text: 'Delay (hours)' }),
    h('input', { type: 'number', id: 'archive-hours', name: 'archiveAfterExtractSeconds', min: 0, max: 8760, step: 'any', value: String(hours) }));
}

function keySettings(form) {
  const scope = form.querySelector('input[name=scope]:checked')?.value;
  const archive = form.archive.checked ? Math.round(Number(form.archiveAfterExtractSeconds.value) * 3600) : null;
  return { description: form.description.value, scope, archiveAfterExtractSeconds: archive };
}

function createKeyDialog(svc) {
  const form = h('form', { method: 'dialog', novalidate: true, id: 'create-key-form' },
    h('h2', { text: 'Create API key' }),
    h('div', { class: 'field' }, h('label', { for: 'key-desc', text: 'Description' }),
      h('input', { type: 'text', id: 'key-desc', name: 'description', placeholder: 'e.g. CRM export', maxlength: 200 })),
    h('label', { text: 'Scope' }), scopeChoices('metadata'), archiveFields(null),
    h('div', { class: 'field' }, h('label', { for: 'key-expiry' }, 'Expires (optional)', h('div', { class: 'hint', text: 'Leave empty for a key that does not expire.' })),
      h('input', { type: 'datetime-local', id: 'key-expiry', name: 'expiresAt' })),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => d.close() }, 'Cancel'),
      h('button', { type: 'submit', id: 'create-key-submit' }, 'Create key')));
  const d = dialog('Create API key', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = keySettings(form);
    if (form.expiresAt.value) body.expiresAt = new Date(form.expiresAt.value).toISOString();
    if (body.archiveAfterExtractSeconds === null) delete body.archiveAfterExtractSeconds;
    try {
      const k = await api('POST', `/api/v1/services/${svc.id}/keys`, body);
      d.close();
      await secretDialog('Your new API key', k.key, `${k.description || 'Key'} · ${SCOPE_LABEL[k.scope]}`);
      route();
    } catch (err) { showError(form, err); }
  });
}

function editKeyDialog(svc, k) {
  const ro = !isSys();
  const form = h('form', { method: 'dialog', novalidate: true, id: 'edit-key-form' },
    h('h2', { text: ro ? 'API key' : 'Edit API key' }),
    h('p', { class: 'muted mono', text: `${k.start}… · ${k.status}${k.expiresAt ? ` · expires ${fmtTime(k.expiresAt)}` : ''}` }),
    h('div', { class: 'field' }, h('label', { for: 'edit-desc', text: 'Description' }),
      h('input', { type: 'text', id: 'edit-desc', name: 'description', value: k.description, maxlength: 200, disabled: ro })),
    h('label', { text: 'Scope' }), scopeChoices(k.scope), archiveFields(k),
    h('div', { class: 'field' }, h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'enabled', checked: k.enabled, id: 'edit-enabled' }), 'Enabled')),
    ro ? null : h('details', { class: 'field' }, h('summary', { text: 'Roll, revoke or delete' }),
      h('div', { class: 'field' }, h('label', { for: 'roll-grace' }, 'Roll: keep the old key working for (seconds)', h('div', { class: 'hint', text: 'A new secret with the same settings; 0 stops the old one at once.' })),
        h('input', { type: 'number', id: 'roll-grace', name: 'expireOldAfterSeconds', min: 0, max: 2592000, value: '3600' })),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', id: 'roll-key', onclick: () => roll() }, 'Roll key'),
        h('button', { type: 'button', class: 'danger secondary', id: 'revoke-key', disabled: k.status === 'revoked', onclick: () => revoke() }, 'Revoke'),
        h('button', { type: 'button', class: 'danger', id: 'delete-key', onclick: () => del() }, 'Delete'))),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => d.close() }, 'Close'),
      ro ? null : h('button', { type: 'submit', id: 'update-key', disabled: k.status === 'revoked' }, 'Update')));
  if (ro) form.querySelectorAll('input').forEach((i) => (i.disabled = true));
  const d = dialog('API key', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('PATCH', `/api/v1/keys/${k.id}`, { ...keySettings(form), enabled: form.enabled.checked });
      d.close();
      toast('Key updated');
      route();
    } catch (err) { showError(form, err); }
  });
  async function roll() {
    try {
      const n = await api('POST', `/api/v1/keys/${k.id}/roll`, { expireOldAfterSeconds: Number(form.expireOldAfterSeconds.value || 0) });
      d.close();
      await secretDialog('Rolled: your new API key', n.key, 'The old key stops working at the end of the grace period.');
      route();
    } catch (err) { showError(form, err); }
  }
  async function revoke() {
    if (!(await confirmDialog('Revoke this key?', 'Revocation is permanent and takes effect on the next request.', 'Revoke'))) return;
    try { await api('POST', `/api/v1/keys/${k.id}/revoke`); d.close(); toast('Key revoked'); route(); } catch (err) { showError(form, err); }
  }
  async function del() {
    if (!(await confirmDialog('Delete this key?', 'The key stops working at once and disappears from the list. Its audit trail stays.', 'Delete'))) return;
    try { await api('DELETE', `/api/v1/keys/${k.id}`); d.close(); toast('Key deleted'); route(); } catch (err) { showError(form, err); }
  }
}

// ----- Members tab -----
async function tabMembers(svc, body) {
  const manage = roleOn(svc.id) === 'admin';
  const list = await api('GET', `/api/v1/services/${svc.id}/members?limit=200`);
  const roleSelect = (value, name, id) => h('select', { name, id, 'aria-label': 'Role' },
    ['admin', 'operator', 'viewer'].map((r) => h('option', { value: r, selected: r === value, text: r })));
  const form = manage ? h('form', { class: 'filters', id: 'add-member', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'm-user', text: 'Username' }), h('input', { type: 'text', id: 'm-user', name: 'username' })),
    h('div', { class: 'field' }, h('label', { for: 'm-role', text: 'Role' }), roleSelect('viewer', 'role', 'm-role')),
    h('div', {}, h('button', { type: 'submit' }, 'Add member'))) : null;
  form?.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { await api('POST', `/api/v1/services/${svc.id}/members`, { username: form.username.value, role: form.role.value }); route(); } catch (err) { showError(form, err); }
  });
  const rows = list.items.map((m) => h('tr', {},
    h('td', { text: m.username }),
    h('td', {}, manage ? (() => {
      const s = roleSelect(m.role, 'role', `role-${m.username}`);
      s.addEventListener('change', async () => {
        try { await api('PATCH', `/api/v1/services/${svc.id}/members/${m.username}`, { role: s.value }); toast('Role changed'); } catch (err) { toast(err.message); }
      });
      return s;
    })() : h('span', { class: 'badge role', text: m.role })),
    h('td', { class: 'hide-sm', text: fmtTime(m.createdAt) }),
    h('td', {}, manage ? h('button', { class: 'danger secondary', onclick: async () => {
      if (!(await confirmDialog(`Remove ${m.username}?`, 'They lose access to this service.', 'Remove'))) return;
      try { await api('DELETE', `/api/v1/services/${svc.id}/members/${m.username}`); route(); } catch (err) { toast(err.message); }
    } }, 'Remove') : null)));
  body.replaceChildren(h('div', { class: 'card' },
    h('h2', { text: 'Members' }),
    h('p', { class: 'muted', text: 'Admins manage members; operators handle records; viewers read. Only a System Administrator creates or changes API keys.' }),
    form,
    rows.length ? h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { text: 'User' }), h('th', { text: 'Role' }), h('th', { class: 'hide-sm', text: 'Added' }), h('th', {}))), h('tbody', {}, rows)))
      : h('div', { class: 'empty', text: 'No members yet.' })));
}

// ----- Audit tab -----
async function tabAudit(svc, body) {
  const tbody = h('tbody');
  const more = h('button', { class: 'secondary', hidden: true }, 'Load more');
  const form = h('form', { class: 'filters', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'f-action', text: 'Action' }), h('input', { type: 'text', id: 'f-action', name: 'action', placeholder: 'e.g. key.*' })),
    h('div', { class: 'field' }, h('label', { for: 'f-actor', text: 'Actor' }), h('input', { type: 'text', id: 'f-actor', name: 'actor', placeholder: 'root, a username, a key id' })),
    h('div', {}, h('button', { type: 'submit' }, 'Filter')));
  let cursor = null;
  async function load(reset) {
    const q = new URLSearchParams({ serviceId: svc.id, limit: '25' });
    if (form.action.value) q.set('action', form.action.value);
    if (form.actor.value) q.set('actor', form.actor.value);
    if (!reset && cursor) q.set('cursor', cursor);
    try {
      const page = await api('GET', `/api/v1/audit?${q}`);
      if (reset) tbody.replaceChildren();
      for (const e of page.items) {
        tbody.append(h('tr', {},
          h('td', { text: fmtTime(e.time) }),
          h('td', { text: e.actor ? `${e.actor.id}` : '—' }),
          h('td', { class: 'mono', text: e.action }),
          h('td', { class: 'hide-sm mono', text: e.target ? e.target.id : '—' }),
          h('td', {}, h('span', { class: `badge ${e.outcome}`, text: e.outcome })),
          h('td', { class: 'hide-sm', text: e.ip })));
      }
      if (!tbody.children.length) tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'empty', text: 'No events match.' })));
      cursor = page.nextCursor;
      more.hidden = !cursor;
    } catch (err) { showError(form, err); }
  }
  form.addEventListener('submit', (e) => { e.preventDefault(); cursor = null; load(true); });
  more.addEventListener('click', () => load(false));
  body.replaceChildren(h('div', { class: 'card' }, h('h2', { text: 'Audit trail' }),
    h('p', { class: 'muted', text: 'Every change and every refused call, newest first. The log is hash-chained.' }), form,
    h('div', { class: 'table-wrap' }, h('table', { id: 'audit-table' }, h('thead', {}, h('tr', {}, h('th', { text: 'Time' }), h('th', { text: 'Actor' }),
      h('th', { text: 'Action' }), h('th', { class: 'hide-sm', text: 'Target' }), h('th', { text: 'Outcome' }), h('th', { class: 'hide-sm', text: 'IP' }))), tbody)),
    h('div', { class: 'more' }, more)));
  await load(true);
}

// ----- Usage tab: verifications per hour, success and denied, as an SVG bar chart -----
const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
function usageChart(series) {
  const W = 720, H = 240, L = 44, B = 26, T = 10, n = series.length;
  const max = Math.max(1, ...series.map((p) => p.valid + p.denied));
  const step = (W - L - 8) / n, bw = Math.max(2, step * 0.7);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Verifications per hour, last 24 hours' });
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    root.append(svg('line', { x1: L, x2: W - 4, y1: y(v), y2: y(v), stroke: '#e2e6ec' }),
      svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5f6b7a' }, v));
  }
  series.forEach((p, i) => {
    const x = L + i * step + (step - bw) / 2;
    const title = svg('title', {}, `${new Date(p.t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: ${p.valid} valid, ${p.denied} denied`);
    const g = svg('g', {}, title);
    if (p.valid) g.append(svg('rect', { x, y: y(p.valid), width: bw, height: H - B - y(p.valid), fill: '#2f9e6b', rx: 2 }));
    if (p.denied) g.append(svg('rect', { x, y: y(p.valid + p.denied), width: bw, height: y(p.valid) - y(p.valid + p.denied), fill: '#d8574a', rx: 2 }));
    root.append(g);
    if (i % 4 === 0) root.append(svg('text', { x: x + bw / 2, y: H - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#5f6b7a' },
      new Date(p.t).toLocaleTimeString([], { hour: '2-digit' })));
  });
  return root;
}
async function tabUsage(svc, body) {
  const u = await api('GET', `/api/v1/services/${svc.id}/usage?hours=24`);
  const n = 24;
  const series = Array.from({ length: n }, (_, i) => ({ t: new Date(Date.parse(u.from) + i * 3600e3).toISOString(), valid: 0, denied: 0 }));
  for (const k of u.keys) k.points.forEach((p, i) => { series[i].valid += p.valid; series[i].denied += p.denied; });
  body.replaceChildren(
    h('div', { class: 'totals' },
      h('div', { class: 'card' }, h('div', { class: 'muted', text: 'Valid verifications (24 h)' }), h('div', { class: 'num', id: 'total-valid', text: u.totals.valid.toLocaleString() })),
      h('div', { class: 'card' }, h('div', { class: 'muted', text: 'Denied (24 h)' }), h('div', { class: 'num', id: 'total-denied', text: u.totals.denied.toLocaleString() }))),
    h('div', { class: 'card chart' }, h('h2', { text: 'Verifications per hour' }),
      h('div', { class: 'legend' }, h('span', {}, h('i', { class: 'swatch-ok' }), 'Valid'), h('span', {}, h('i', { class: 'swatch-denied' }), 'Denied')),
      usageChart(series),
      u.keys.length ? h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { text: 'Key' }), h('th', { text: 'Description' }), h('th', { text: 'Valid' }), h('th', { text: 'Denied' }))),
        h('tbody', {}, u.keys.map((k) => h('tr', {}, h('td', { class: 'mono', text: k.start ? `${k.start}…` : k.keyId }), h('td', { text: k.description || '—' }),
          h('td', { text: k.valid.toLocaleString() }), h('td', { text: k.denied.toLocaleString() }))))))
        : h('p', { class: 'muted', text: 'No verifications in the last 24 hours.' })));
}

// ---------- user menu ----------
function passwordDialog() {
  const form = h('form', { method: 'dialog', novalidate: true },
    h('h2', { text: 'Change password' }),
    h('div', { class: 'field' }, h('label', { for: 'pw-current', text: 'Current password' }), h('input', { type: 'password', id: 'pw-current', name: 'currentPassword', autocomplete: 'current-password' })),
    h('div', { class: 'field' }, h('label', { for: 'pw-new' }, 'New password', h('div', { class: 'hint', text: '12 to 256 characters. Other sessions end.' })),
      h('input', { type: 'password', id: 'pw-new', name: 'password', autocomplete: 'new-password' })),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => d.close() }, 'Cancel'), h('button', { type: 'submit' }, 'Change password')));
  const d = dialog('Change password', form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('PATCH', `/api/v1/users/${encodeURIComponent(state.user.username)}`, { currentPassword: form.currentPassword.value, password: form.password.value });
      d.close();
      toast('Password changed. Please sign in again.');
      location.hash = '#/login';
    } catch (err) { showError(form, err); }
  });
}
function setupMenu() {
  const btn = document.getElementById('userbtn'), list = document.getElementById('usermenu-list');
  const toggle = (open) => { list.hidden = !open; btn.setAttribute('aria-expanded', String(open)); };
  btn.addEventListener('click', () => toggle(list.hidden));
  document.addEventListener('click', (e) => { if (!e.target.closest('#usermenu')) toggle(false); });
  document.getElementById('menu-password').addEventListener('click', () => { toggle(false); passwordDialog(); });
  document.getElementById('menu-logout').addEventListener('click', async () => {
    toggle(false);
    try { await api('DELETE', '/api/v1/session'); } catch { /* gone already */ }
    state.user = null;
    state.csrf = null;
    sessionStorage.removeItem('kw-csrf');
    location.hash = '#/login';
  });
}

// ---------- router ----------
async function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  if (parts[0] === 'login') return viewLogin();
  if (!state.user && !(await loadSession())) return viewLogin();
  try {
    if (parts[0] === 'services' && parts[1]) await viewService(parts[1], parts[2] || 'keys');
    else await viewServices();
  } catch (err) {
    if (err.status !== 401) app.replaceChildren(h('div', { class: 'card empty', role: 'alert', text: err.message }));
  }
}
window.addEventListener('hashchange', route);
setupMenu();
route();
