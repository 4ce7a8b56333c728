// Access keys tab, as seed 004 shows them: "Create access key" opens a dialog with the Access key ID and a
// "Show key" button revealing the Secret access key once, "Copy to clipboard" and the warning; the list
// shows Access key ID, service user, Created, Last used and status; disable/enable; delete (trash can).
import { api, canWriteKeys, enc, listAll } from './api.js';
import { fmtRelative, fmtTime, h, field, select, svg } from './dom.js';
import { badge, button, confirmStep, emptyState, modal, restoreFocus, toast } from './ui.js';
import { onceDialog, secretField } from './once.js';
import { STATUS_TEXT, listServiceUsers } from './serviceusers.js';

const akStatus = (k) => k.status || (k.enabled ? 'active' : 'disabled');

export async function tabAccessKeys(svc, body, reload) {
  const [keys, users] = await Promise.all([listAll(`/api/v1/services/${enc(svc.id)}/access-keys`), listServiceUsers(svc)]);
  keys.sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  const byId = new Map(users.map((u) => [u.id, u]));
  const write = canWriteKeys();
  const head = h('div', { class: 'toolbar' },
    h('div', {},
      h('h2', { text: 'Access keys' }),
      h('p', { class: 'muted', text: write
        ? 'An access key ID and secret access key let a service user sign requests (HMAC) or trade a signed token for an access token. At most two active keys per service user, so one can be rotated.'
        : 'The access keys of this service’s service users. Only a System Administrator can create or change them.' })),
    write ? button('Create access key', { id: 'create-access-key', dataset: { focusKey: 'create-access-key' },
      onclick: () => createDialog(svc, users, reload) }) : null);

  if (!keys.length) {
    const none = !users.length;
    body.replaceChildren(head, h('div', { class: 'card' }, emptyState('No access keys yet',
      none ? 'Access keys belong to a service user. Create one on the Service users tab first.'
        : write ? 'Create an access key for a service user that signs its requests.' : 'A System Administrator has not created any access keys for this service.',
      none ? h('a', { class: 'btn secondary', href: `#/services/${enc(svc.id)}/service-users`, text: 'Go to Service users' }) : null)));
    return;
  }
  const live = keys.filter((k) => akStatus(k) === 'active').length;
  body.replaceChildren(head,
    h('div', { class: 'card flush' },
      h('div', { class: 'table-wrap' },
        h('table', { id: 'access-keys-table', class: 'data' },
          h('caption', { class: 'sr-only', text: `Access keys of ${svc.name}` }),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: 'Access key ID' }), h('th', { scope: 'col', class: 'hide-md', text: 'Service user' }),
            h('th', { scope: 'col', class: 'hide-sm', text: 'Created' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Last used' }),
            h('th', { scope: 'col', class: 'hide-sm', text: 'Status' }),
            write ? h('th', { scope: 'col' }, h('span', { class: 'sr-only', text: 'Actions' })) : null)),
          h('tbody', {}, keys.map((k) => keyRow(k, byId.get(k.serviceUserId), reload, write))))),
      h('p', { class: 'table-foot muted', text: `${keys.length} access key${keys.length === 1 ? '' : 's'} · ${live} active` })));
  restoreFocus(body);
}

const trashIcon = () => svg('svg', { viewBox: '0 0 24 24', width: 18, height: 18, 'aria-hidden': 'true', fill: 'none', stroke: 'currentColor',
  'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' },
svg('path', { d: 'M3 6h18M8 6V4h8v2M19 6l-1 14H6L5 6M10 11v6M14 11v6' }));

function keyRow(k, u, reload, write) {
  const status = akStatus(k);
  const who = u ? u.name : k.serviceUserId;
  const enabled = k.enabled !== false;
  // An enabled key of a disabled service user answers "disabled" too: say why.
  const why = enabled && status === 'disabled' ? h('div', { class: 'small muted', text: 'service user disabled' }) : null;
  return h('tr', { class: `status-${status}`, dataset: { accessKeyId: k.accessKeyId } },
    h('td', {}, h('code', { class: 'keystart', text: k.accessKeyId }), h('div', { class: 'small muted show-md', text: who }),
      h('div', { class: 'show-sm' }, badge(STATUS_TEXT[status] || status, status), why)),
    h('td', { class: 'hide-md', text: who }),
    h('td', { class: 'hide-sm nowrap', text: fmtTime(k.createdAt) }),
    h('td', { class: 'hide-sm nowrap', title: k.lastUsedAt ? fmtTime(k.lastUsedAt) : null, text: k.lastUsedAt ? fmtRelative(k.lastUsedAt) : 'Never' }),
    h('td', { class: 'hide-sm' }, badge(STATUS_TEXT[status] || status, status), why?.cloneNode(true)),
    write ? h('td', { class: 'right nowrap' },
      button(enabled ? 'Disable' : 'Enable', { class: 'small', dataset: { action: enabled ? 'disable' : 'enable', focusKey: `ak-${k.accessKeyId}` },
        'aria-label': `${enabled ? 'Disable' : 'Enable'} access key ${k.accessKeyId}`, onclick: () => setEnabled(k, !enabled, reload) }, 'secondary'), ' ',
      h('button', { type: 'button', class: 'icon-btn trash', dataset: { action: 'delete' }, title: 'Delete',
        'aria-label': `Delete access key ${k.accessKeyId}`, onclick: () => del(k, reload) }, trashIcon())) : null);
}

async function setEnabled(k, enabled, reload) {
  try {
    await api('PATCH', `/api/v1/access-keys/${enc(k.accessKeyId)}`, { enabled });
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  toast(`Access key ${enabled ? 'enabled' : 'disabled'}`);
  reload();
}

async function del(k, reload) {
  if (!(await confirmStep('Delete this access key?',
    `${k.accessKeyId} cannot be used to access the API once it is deleted, nor can the access tokens made with it. Update every system that used it to a new access key.`,
    'Delete access key'))) return;
  try {
    await api('DELETE', `/api/v1/access-keys/${enc(k.accessKeyId)}`);
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  toast('Access key deleted');
  reload();
}

function createDialog(svc, users, reload) {
  const enabled = users.filter((u) => u.enabled);
  if (!enabled.length) {
    const m = modal('Create access key', {
      id: 'create-access-key-dialog', size: 'sm',
      body: h('p', { text: users.length ? 'Every service user of this service is disabled. Enable one first.'
        : 'Access keys belong to a service user. Create one on the Service users tab first.' }),
      actions: [button('Close', { onclick: () => m.close() }, 'secondary')],
    });
    return;
  }
  const who = select('serviceUserId', enabled.map((u) => [u.id, `${u.name} (${u.sourceSystem})`]), enabled[0].id, { id: 'ak-user' });
  const m = modal('Create access key', {
    id: 'create-access-key-dialog',
    body: [
      h('p', { class: 'muted', text: `For ${svc.name}. The secret access key is shown once, in the next step.` }),
      field('Service user', who, { hint: 'The access key acts as this service user, with its permissions.' }),
    ],
    actions: [
      button('Cancel', { onclick: () => m.close() }, 'secondary'),
      h('button', { type: 'submit', class: 'btn primary', id: 'create-access-key-submit' }, 'Create access key'),
    ],
    onSubmit: async () => {
      const k = await api('POST', `/api/v1/services/${enc(svc.id)}/access-keys`, { serviceUserId: who.value });
      m.close();
      reload();
      await keyDialog(k, users.find((u) => u.id === k.serviceUserId));
    },
  });
}

// Seed 004's "Create access key" dialog: the ID in plain sight, the secret behind "Show key".
function keyDialog(k, u) {
  const id = h('div', { class: 'field' },
    h('div', { class: 'secret-label field-label', id: 'ak-id-label', text: 'Access key ID' }),
    h('code', { class: 'ak-id', id: 'ak-id', 'aria-labelledby': 'ak-id-label', text: k.accessKeyId }));
  const secret = secretField('Secret access key', k.secretAccessKey, { id: 'ak-secret', masked: true, showId: 'show-key',
    copyLabel: 'Copy to clipboard', copyId: 'copy-secret-key', what: 'secret access key' });
  return onceDialog('Create access key', {
    id: 'access-key-dialog',
    intro: [h('p', { class: 'muted', text: `For ${u ? `${u.name} (${u.sourceSystem})` : k.serviceUserId}.` }), id],
    fields: [secret],
    warning: [h('strong', { text: '⚠️ The secret access key is only viewable in this dialog. ' }),
      'After you close it, it is no longer accessible: it will not be shown again. Copy it and store it in a secure location.'],
    doneLabel: 'Close',
    doneId: 'access-key-close',
  });
}
