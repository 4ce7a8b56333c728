// Service users tab (seed 002): one machine identity per source system, each an OAuth 2.0 client.
// Create with name, source system and permissions; the client secret is shown once; disable, enable,
// reset the client secret, delete. Only a System Administrator changes anything (seed 003).
import { api, canWriteKeys, enc, listAll } from './api.js';
import { fmtTime, h, field, input, nextId } from './dom.js';
import { badge, button, confirmStep, emptyState, modal, restoreFocus, showError, toast } from './ui.js';
import { onceDialog, secretField } from './once.js';

// The permissions a service user (and its credentials) may hold; candidates:read is always implied.
export const SU_PERMISSIONS = [
  ['documents:write', 'Ingest documents', 'POST /api/v1/ingest'],
  ['documents:read', 'Read documents', 'GET /api/v1/documents'],
  ['candidates:archive', 'Archive candidates', 'POST /api/v1/candidates/archive'],
  ['keys:verify', 'Verify keys of this service', 'POST /api/v1/keys/verify'],
];
const SOURCE_RE = /^[a-z][a-z0-9_]{1,31}$/;

export const suStatus = (u) => (u.enabled ? 'active' : 'disabled');
export const STATUS_TEXT = { active: 'Active', disabled: 'Disabled', revoked: 'Revoked', expired: 'Expired' };
export const listServiceUsers = (svc) => listAll(`/api/v1/services/${enc(svc.id)}/service-users`);
// The explicit permissions (without the implied candidates:read), for display.
export const extraPerms = (perms) => (perms || []).filter((p) => p !== 'candidates:read');

export async function tabServiceUsers(svc, body, reload) {
  const users = (await listServiceUsers(svc)).sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  const write = canWriteKeys();
  const head = h('div', { class: 'toolbar' },
    h('div', {},
      h('h2', { text: 'Service users' }),
      h('p', { class: 'muted', text: write
        ? 'One service user per source system that calls keyward. Each is an OAuth client and holds its own tokens and access keys.'
        : 'The machine identities of this service’s source systems. Only a System Administrator can create or change them.' })),
    write ? button('Create service user', { id: 'create-su', dataset: { focusKey: 'create-su' }, onclick: () => createDialog(svc, reload) }) : null);

  if (!users.length) {
    body.replaceChildren(head, h('div', { class: 'card' }, emptyState('No service users yet',
      write ? 'Create one for each source system (for example vkyc or doc_service), so each can be stopped on its own.'
        : 'A System Administrator has not created any service users for this service.')));
    return;
  }
  const active = users.filter((u) => u.enabled).length;
  body.replaceChildren(head,
    h('div', { class: 'card flush' },
      h('div', { class: 'table-wrap' },
        h('table', { id: 'su-table', class: 'data' },
          h('caption', { class: 'sr-only', text: `Service users of ${svc.name}` }),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: 'Name' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Source system' }),
            h('th', { scope: 'col', class: 'hide-md', text: 'Permissions' }), h('th', { scope: 'col', text: 'Status' }),
            h('th', { scope: 'col', class: 'hide-sm', text: 'Created' }),
            write ? h('th', { scope: 'col', class: 'hide-sm' }, h('span', { class: 'sr-only', text: 'Actions' })) : null)),
          h('tbody', {}, users.map((u) => userRow(svc, u, reload, write))))),
      h('p', { class: 'table-foot muted', text: `${users.length} service user${users.length === 1 ? '' : 's'} · ${active} active` })));
  restoreFocus(body);
}

function permChips(perms) {
  const extra = extraPerms(perms);
  return h('div', { class: 'chips' }, h('code', { class: 'chip', text: 'candidates:read' }), extra.map((p) => h('code', { class: 'chip', text: p })));
}

function userRow(svc, u, reload, write) {
  const open = () => userDialog(svc, u, reload);
  const status = suStatus(u);
  return h('tr', { class: `clickable status-${status}`, dataset: { suId: u.id },
    onclick: (e) => { if (!e.target.closest('button, a')) open(); } },
  h('td', {},
    h('button', { type: 'button', class: 'rowlink', dataset: { focusKey: `su-${u.id}` }, onclick: open, 'aria-label': `${write ? 'Manage' : 'View'} service user ${u.name}` }, u.name),
    h('div', { class: 'small muted mono show-sm', text: u.sourceSystem })),
  h('td', { class: 'hide-sm' }, h('code', { text: u.sourceSystem })),
  h('td', { class: 'hide-md' }, permChips(u.permissions)),
  h('td', {}, badge(STATUS_TEXT[status], status)),
  h('td', { class: 'hide-sm nowrap', text: fmtTime(u.createdAt) }),
  write ? h('td', { class: 'hide-sm right nowrap' },
    button(u.enabled ? 'Disable' : 'Enable', { class: 'small', dataset: { action: u.enabled ? 'disable' : 'enable' },
      'aria-label': `${u.enabled ? 'Disable' : 'Enable'} ${u.name}`, onclick: () => setEnabled(u, !u.enabled, reload) }, 'secondary'), ' ',
    button('Delete', { class: 'small', dataset: { action: 'delete' }, 'aria-label': `Delete ${u.name}`, onclick: () => deleteUser(u, reload) }, 'danger secondary'))
    : null);
}

// ---------- actions ----------
async function setEnabled(u, enabled, reload, errorRoot) {
  if (!enabled && !(await confirmStep(`Disable ${u.name}?`,
    'Every token, access key and access token of this service user stops working on its next request. You can enable it again.', 'Disable'))) return false;
  try {
    await api('PATCH', `/api/v1/service-users/${enc(u.id)}`, { enabled });
  } catch (err) {
    if (errorRoot) showError(errorRoot, err);
    else toast(err.message, { error: true });
    return false;
  }
  toast(`${u.name} ${enabled ? 'enabled' : 'disabled'}`);
  reload();
  return true;
}

async function deleteUser(u, reload, errorRoot) {
  if (!(await confirmStep(`Delete ${u.name}?`,
    `${u.name}’s tokens, access keys and access tokens stop working at once, and it disappears from the list. Its audit trail stays.`,
    'Delete service user'))) return false;
  try {
    await api('DELETE', `/api/v1/service-users/${enc(u.id)}`);
  } catch (err) {
    if (errorRoot) showError(errorRoot, err);
    else toast(err.message, { error: true });
    return false;
  }
  toast(`${u.name} deleted`);
  reload();
  return true;
}

function clientSecretDialog(title, clientId, clientSecret, name) {
  const idField = secretField('Client ID', clientId, { id: 'client-id', copyId: 'copy-client-id', what: 'client ID', kind: 'secondary' });
  const secret = secretField('Client secret', clientSecret, { id: 'client-secret', copyId: 'copy-client-secret', what: 'client secret' });
  return onceDialog(title, {
    id: 'client-secret-dialog',
    intro: h('p', { class: 'muted', text: `${name} authenticates to POST /oauth/token with these (client credentials grant).` }),
    fields: [idField, secret],
    secret,
    warning: [h('strong', { text: '⚠️ The client secret is displayed only now. ' }), 'Copy it and store it somewhere safe: it will not be shown again.'],
    doneId: 'client-secret-done',
  });
}

// ---------- create ----------
function createDialog(svc, reload) {
  const name = input('name', { id: 'su-name', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. Video KYC' });
  const source = input('sourceSystem', { id: 'su-source', maxlength: 32, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false',
    placeholder: 'e.g. vkyc' });
  const legendId = nextId('su-perm');
  const m = modal('Create service user', {
    id: 'create-su-dialog',
    body: [
      h('p', { class: 'muted', text: `For ${svc.name}. The service user is also an OAuth client: its client secret is shown once, after you create it.` }),
      field('Name', name, { hint: 'Who calls keyward, in words.' }),
      field('Source system', source, { hint: 'Lowercase letters, digits and _, starting with a letter (2–32). Unique in this service.' }),
      h('fieldset', { class: 'field perms', dataset: { field: 'permissions' }, 'aria-labelledby': legendId },
        h('legend', { id: legendId, text: 'Permissions' }),
        h('p', { class: 'hint', text: 'Every credential may read candidates. Grant more only when the system needs it.' }),
        SU_PERMISSIONS.map(([p, label, route]) => {
          const id = nextId('su-perm');
          return h('label', { class: 'check', for: id },
            h('input', { type: 'checkbox', name: 'permissions', value: p, id }),
            h('span', {}, label, ' ', h('code', { class: 'small muted', text: route })));
        })),
    ],
    actions: [
      button('Cancel', { onclick: () => m.close() }, 'secondary'),
      h('button', { type: 'submit', class: 'btn primary', id: 'create-su-submit' }, 'Create service user'),
    ],
    onSubmit: async (form) => {
      const payload = {
        name: name.value.trim(), sourceSystem: source.value.trim(),
        permissions: [...form.querySelectorAll('input[name=permissions]:checked')].map((c) => c.value),
      };
      if (!payload.name) throw Object.assign(new Error('Enter a name.'), { field: 'name' });
      if (!SOURCE_RE.test(payload.sourceSystem)) {
        throw Object.assign(new Error('Use 2–32 lowercase letters, digits or _, starting with a letter (for example doc_service).'), { field: 'sourceSystem' });
      }
      let u;
      try {
        u = await api('POST', `/api/v1/services/${enc(svc.id)}/service-users`, payload);
      } catch (err) {
        if (err.status === 409 && !err.field) err.field = 'sourceSystem';
        throw err;
      }
      m.close();
      reload();
      await clientSecretDialog('Service user created', u.clientId || u.id, u.clientSecret, u.name);
    },
  });
}

// ---------- details ----------
function userDialog(svc, u, reload) {
  const write = canWriteKeys();
  const status = suStatus(u);
  const rows = [
    ['Source system', h('code', { text: u.sourceSystem })],
    ['Status', badge(STATUS_TEXT[status], status)],
    ['OAuth client ID', h('code', { class: 'wrap', text: u.clientId || u.id })],
    ['Created', `${fmtTime(u.createdAt)} by ${u.createdBy || 'unknown'}`],
    ['Permissions', permChips(u.permissions)],
  ];
  if (u.updatedAt && u.updatedAt !== u.createdAt) rows.push(['Changed', fmtTime(u.updatedAt)]);
  const summary = h('dl', { class: 'summary' }, rows.map(([dt, dd]) => h('div', {}, h('dt', { text: dt }), h('dd', {}, dd))));
  const links = h('p', { class: 'muted small' }, 'Mint tokens for it on the ', h('a', { href: `#/services/${enc(svc.id)}/tokens`, onclick: () => m.close(), text: 'Tokens' }),
    ' tab; give it access keys on the ', h('a', { href: `#/services/${enc(svc.id)}/access-keys`, onclick: () => m.close(), text: 'Access keys' }), ' tab.');
  const zone = write ? h('section', { class: 'danger-zone', 'aria-labelledby': 'su-danger' },
    h('h3', { id: 'su-danger', text: 'Client secret, disable or delete' }),
    h('div', { class: 'field' },
      h('p', { class: 'hint', text: 'A new client secret replaces the old one at once. Access tokens already issued keep working until they expire.' }),
      h('div', { class: 'row-actions' }, button('Reset client secret', { id: 'reset-secret', onclick: () => reset() }, 'secondary'))),
    h('div', { class: 'row-actions' },
      button(u.enabled ? 'Disable' : 'Enable', { id: 'su-toggle', onclick: async () => { if (await setEnabled(u, !u.enabled, reload, zone)) m.close(); } }, u.enabled ? 'danger secondary' : 'secondary'),
      button('Delete', { id: 'su-delete', onclick: async () => { if (await deleteUser(u, reload, zone)) m.close(); } }, 'danger secondary'))) : null;

  async function reset() {
    if (!(await confirmStep('Reset the client secret?', `${u.name}’s current client secret stops working at once. Update the systems that use it.`, 'Reset client secret'))) return;
    try {
      const r = await api('POST', `/api/v1/service-users/${enc(u.id)}/client-secret`);
      m.close();
      reload();
      await clientSecretDialog('New client secret', r.clientId || u.id, r.clientSecret, u.name);
    } catch (err) { showError(zone, err); }
  }
  const m = modal(u.name, {
    id: 'su-dialog',
    size: 'lg',
    body: [summary, links, zone],
    actions: [button('Close', { id: 'su-close', onclick: () => m.close() }, 'secondary')],
  });
}
