// API Keys tab, as the product page (seed 000) describes it: create with description, scope, auto-archive
// and expiry; the secret shown once with Copy; click a row to edit; enable/disable; roll, revoke, delete.
import { api, canWriteKeys, enc } from './api.js';
import { DURATION_UNITS, fmtDuration, fmtRelative, fmtTime, h, field, input, nextId, select, splitDuration } from './dom.js';
import { badge, button, confirmStep, emptyState, modal, restoreFocus, showError, toast } from './ui.js';

export const SCOPES = [
  { value: 'metadata', title: 'Return only metadata', short: 'Metadata only',
    text: 'Only return status and ID of the candidates.' },
  { value: 'attributes', title: 'Return metadata and identity attributes except pictures', short: 'Attributes, no pictures',
    text: 'If you wish to include text-only identity attributes in the API responses.' },
  { value: 'attributes_pictures', title: 'Return metadata and identity attributes including pictures', short: 'Attributes and pictures',
    text: 'If you wish to include all identity attributes in the API responses, including images of document, selfie and proof of address.' },
];
const scopeShort = (v) => SCOPES.find((s) => s.value === v)?.short || v;

const PERMISSIONS = [
  ['candidates:archive', 'Archive candidates', 'POST /api/v1/candidates/archive'],
  ['documents:write', 'Ingest documents', 'POST /api/v1/ingest'],
  ['documents:read', 'Read documents', 'GET /api/v1/documents'],
  ['keys:verify', 'Verify keys of this service', 'POST /api/v1/keys/verify'],
];

const STATUS_TEXT = { active: 'Active', disabled: 'Disabled', revoked: 'Revoked', expired: 'Expired' };

export async function tabKeys(svc, body, reload) {
  const items = [];
  let cursor = null;
  do {
    const page = await api('GET', `/api/v1/services/${enc(svc.id)}/keys?limit=200${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < 2000);
  items.reverse(); // newest first

  const write = canWriteKeys();
  const create = write ? button('Create API key', { id: 'create-key', dataset: { focusKey: 'create-key' }, onclick: () => createKeyDialog(svc, reload) }) : null;
  const live = items.filter((k) => k.status === 'active').length;
  const head = h('div', { class: 'toolbar' },
    h('div', {},
      h('h2', { text: 'API keys' }),
      h('p', { class: 'muted', text: write
        ? 'Keys let your systems extract and archive candidate information. Click a row to edit a key.'
        : 'Keys let this service’s systems extract and archive candidate information. Only a System Administrator can create or change them.' })),
    create);

  if (!items.length) {
    body.replaceChildren(head, h('div', { class: 'card' }, emptyState('No API keys yet',
      write ? 'Create a key for each system that calls the API, so each can be revoked on its own.' : 'A System Administrator has not created any keys for this service.')));
    return;
  }

  const rows = items.map((k) => keyRow(svc, k, reload, write));
  body.replaceChildren(head,
    h('div', { class: 'card flush' },
      h('div', { class: 'table-wrap' },
        h('table', { id: 'keys-table', class: 'data' },
          h('caption', { class: 'sr-only', text: `API keys of ${svc.name}` }),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col', text: 'Description' }), h('th', { scope: 'col', text: 'Key' }),
            h('th', { scope: 'col', class: 'hide-md', text: 'Scope' }), h('th', { scope: 'col', text: 'Status' }),
            h('th', { scope: 'col', class: 'hide-sm', text: 'Created' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Last used' }),
            write ? h('th', { scope: 'col', class: 'hide-sm' }, h('span', { class: 'sr-only', text: 'Actions' })) : null)),
          h('tbody', {}, rows))),
      h('p', { class: 'table-foot muted', text: `${items.length} key${items.length === 1 ? '' : 's'} · ${live} active` })));
  restoreFocus(body);
}

function keyRow(svc, k, reload, write) {
  const open = () => editKeyDialog(svc, k, reload);
  const soon = k.status === 'active' && k.expiresAt;
  return h('tr', {
    class: `clickable status-${k.status}`, dataset: { keyId: k.id },
    onclick: (e) => { if (!e.target.closest('button, a')) open(); },
  },
  h('td', {}, h('button', { type: 'button', class: 'rowlink', dataset: { focusKey: `key-${k.id}` }, onclick: open,
    'aria-label': `${write ? 'Edit' : 'View'} key ${k.description || k.start}` },
  k.description || h('span', { class: 'muted', text: 'No description' }))),
  h('td', {}, h('code', { class: 'keystart', text: `${k.start}…` })),
  h('td', { class: 'hide-md', text: scopeShort(k.scope) }),
  h('td', {}, badge(STATUS_TEXT[k.status] || k.status, k.status),
    soon ? h('div', { class: 'small muted', text: `expires ${fmtRelative(k.expiresAt)}`, title: fmtTime(k.expiresAt) }) : null),
  h('td', { class: 'hide-sm nowrap', text: fmtTime(k.createdAt) }),
  h('td', { class: 'hide-sm nowrap', title: k.lastUsedAt ? `${fmtTime(k.lastUsedAt)} from ${k.lastUsedIp || 'unknown address'}` : null,
    text: k.lastUsedAt ? fmtRelative(k.lastUsedAt) : 'Never' }),
  write ? h('td', { class: 'hide-sm right' }, k.status === 'active' || k.status === 'disabled'
    ? button('Revoke', { class: 'small', 'aria-label': `Revoke key ${k.description || k.start}`, onclick: () => revokeKey(k, reload) }, 'danger secondary')
    : null) : null);
}

// ---------- form pieces shared by create and edit ----------
function scopeField(current, disabled) {
  const legendId = nextId('scope');
  return h('fieldset', { class: 'field scope-choices', dataset: { field: 'scope' }, 'aria-labelledby': legendId },
    h('legend', { id: legendId, text: 'Scope' }),
    SCOPES.map((s) => {
      const id = nextId('scope-opt');
      return h('label', { class: 'choice', for: id },
        h('input', { type: 'radio', name: 'scope', value: s.value, id, checked: s.value === current, disabled, 'aria-describedby': `${id}-text` }),
        h('span', {}, h('strong', { text: s.title }), h('span', { class: 'hint', id: `${id}-text`, text: s.text })));
    }));
}

function archiveField(seconds, disabled) {
  const on = seconds !== null && seconds !== undefined;
  const [value, unit] = on ? splitDuration(seconds) : [24, 3600];
  const check = h('input', { type: 'checkbox', name: 'archive', id: nextId('archive'), checked: on, disabled });
  const amount = input('archiveAmount', { type: 'number', min: 0, step: 1, value: String(value), inputmode: 'numeric', id: nextId('archive-amount'),
    'aria-label': 'Archive delay', disabled: disabled || !on, class: 'archive-amount' });
  const unitSel = select('archiveUnit', DURATION_UNITS, String(unit), { 'aria-label': 'Archive delay unit', disabled: disabled || !on, id: nextId('archive-unit') });
  check.addEventListener('change', () => { amount.disabled = !check.checked; unitSel.disabled = !check.checked; if (check.checked) amount.focus(); });
  return h('div', { class: 'field archive', dataset: { field: 'archiveAfterExtractSeconds' } },
    h('label', { class: 'check', for: check.id }, check, h('span', { text: 'Archive the candidate after extract' })),
    h('p', { class: 'hint', text: 'Deletes the candidate’s personal information (identity attributes) from the dashboard after the API returned it. Leave the checkbox unselected if you want to retain candidates’ personal info in the dashboard.' }),
    h('div', { class: 'inline-fields' }, h('span', { class: 'inline-label', text: 'Archive after' }), amount, unitSel));
}

function moreOptions(k, disabled) {
  const granted = new Set(k?.permissions || []);
  const expires = input('expiresAt', { type: 'datetime-local', id: nextId('expires'), disabled,
    value: k?.expiresAt ? toLocalInput(k.expiresAt) : '' });
  const legendId = nextId('perm');
  return h('details', { class: 'more', open: Boolean(k?.expiresAt) || [...granted].some((p) => p !== 'candidates:read') },
    h('summary', { text: 'More options: expiry and extra permissions' }),
    field('Expires (optional)', expires, { hint: 'In your local time. Leave empty for a key that does not expire.' }),
    h('fieldset', { class: 'field perms', dataset: { field: 'permissions' }, 'aria-labelledby': legendId },
      h('legend', { id: legendId, text: 'Extra permissions' }),
      h('p', { class: 'hint', text: 'Every key may read candidates within its scope. Grant more only when the system needs it.' }),
      PERMISSIONS.map(([p, label, route]) => {
        const id = nextId('perm');
        return h('label', { class: 'check', for: id },
          h('input', { type: 'checkbox', name: 'permissions', value: p, id, checked: granted.has(p), disabled }),
          h('span', {}, label, ' ', h('code', { class: 'small muted', text: route })));
      })));
}

function toLocalInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fail(message, fieldName) {
  return Object.assign(new Error(message), { field: fieldName });
}

// Reads the shared settings from a create or edit form, in the API's terms.
function readSettings(form) {
  const scope = form.querySelector('input[name=scope]:checked')?.value;
  if (!scope) throw fail('Choose what the key may return.', 'scope');
  let archiveAfterExtractSeconds = null;
  if (form.archive.checked) {
    const amount = Number(form.archiveAmount.value);
    if (form.archiveAmount.value === '' || !Number.isInteger(amount) || amount < 0) throw fail('Enter the delay as a whole number, 0 or more.', 'archiveAfterExtractSeconds');
    archiveAfterExtractSeconds = amount * Number(form.archiveUnit.value);
    if (archiveAfterExtractSeconds > 31536000) throw fail('The archive delay can be at most 365 days.', 'archiveAfterExtractSeconds');
  }
  let expiresAt = null;
  if (form.expiresAt.value) {
    const t = new Date(form.expiresAt.value);
    if (Number.isNaN(t.getTime())) throw fail('Enter a valid date and time.', 'expiresAt');
    expiresAt = t.toISOString();
  }
  const permissions = [...form.querySelectorAll('input[name=permissions]:checked')].map((c) => c.value);
  return { description: form.description.value.trim(), scope, archiveAfterExtractSeconds, expiresAt, permissions };
}

// ---------- create ----------
function createKeyDialog(svc, reload) {
  const desc = input('description', { maxlength: 200, placeholder: 'e.g. CRM export, nightly', autocomplete: 'off', id: 'key-desc' });
  const m = modal('Create API key', {
    id: 'create-key-dialog',
    body: [
      h('p', { class: 'muted', text: `For ${svc.name}. The key will start with ${svc.keyPrefix}_.` }),
      field('Description', desc, { hint: 'A short note on which system uses the key.' }),
      scopeField('metadata', false),
      archiveField(null, false),
      moreOptions(null, false),
    ],
    actions: [
      button('Cancel', { onclick: () => m.close() }, 'secondary'),
      h('button', { type: 'submit', class: 'btn primary', id: 'create-key-submit' }, 'Create key'),
    ],
    onSubmit: async (form) => {
      const s = readSettings(form);
      const payload = { description: s.description, scope: s.scope };
      if (s.archiveAfterExtractSeconds !== null) payload.archiveAfterExtractSeconds = s.archiveAfterExtractSeconds;
      if (s.expiresAt) payload.expiresAt = s.expiresAt;
      if (s.permissions.length) payload.permissions = s.permissions;
      const k = await api('POST', `/api/v1/services/${enc(svc.id)}/keys`, payload);
      m.close();
      reload();
      await secretDialog('API key created', k, 'Your new API key');
    },
  });
}

// Shows a secret once: Copy (clipboard API, else select the text for Ctrl+C) and the seed's warning.
export function secretDialog(title, k, label) {
  const secret = k.key;
  const value = h('input', { type: 'text', readOnly: true, value: secret, id: 'secret-value', class: 'secret-input', spellcheck: 'false', autocomplete: 'off' });
  const status = h('p', { class: 'copy-status', id: 'copy-status', role: 'status', 'aria-live': 'polite' });
  const copy = button('Copy', { id: 'copy-secret', onclick: () => copySecret() }, 'primary');
  let copied = false;
  async function copySecret() {
    let ok = false;
    if (navigator.clipboard?.writeText) {
      try { await navigator.clipboard.writeText(secret); ok = true; } catch { /* blocked: fall back */ }
    }
    if (!ok) {
      value.focus();
      value.setSelectionRange(0, secret.length);
      try { ok = document.execCommand('copy'); } catch { ok = false; }
      status.textContent = ok ? 'Copied to the clipboard. The key is also selected.'
        : 'This browser did not allow copying. The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
    } else {
      status.textContent = 'Copied to the clipboard.';
    }
    copied = ok;
    copy.textContent = ok ? 'Copied ✓' : 'Copy';
  }
  const warnId = nextId('warn');
  const m = modal(title, {
    id: 'secret-dialog',
    describedBy: warnId,
    body: [
      h('p', { class: 'muted' }, k.description || 'No description', ' · ', scopeShort(k.scope)),
      h('label', { for: 'secret-value', class: 'secret-label', text: label }),
      h('div', { class: 'secret' }, value, copy),
      status,
      h('div', { class: 'warning', id: warnId },
        h('strong', { text: '⚠️ The API key is displayed only upon creation. ' }),
        'Copy it now and store it somewhere safe: it will not be shown again.'),
    ],
    actions: [h('button', { type: 'button', class: 'btn secondary', id: 'secret-done', onclick: () => m.close() }, 'Done')],
    onCancel: () => {
      if (copied || status.dataset.warned) return true;
      status.dataset.warned = '1';
      status.textContent = 'Copy the key before you close this dialog. Press Escape again or Done if you have stored it.';
      return false;
    },
  });
  value.addEventListener('focus', () => value.select());
  copy.focus();
  return m.closed;
}

// ---------- edit ----------
function editKeyDialog(svc, k, reload) {
  const write = canWriteKeys();
  const ro = !write || k.status === 'revoked';
  const desc = input('description', { maxlength: 200, value: k.description, autocomplete: 'off', id: 'edit-desc', disabled: ro });
  const enabled = h('input', { type: 'checkbox', name: 'enabled', id: 'edit-enabled', role: 'switch', checked: k.enabled, disabled: ro });
  const body = [
    keySummary(k),
    field('Description', desc),
    scopeField(k.scope, ro),
    archiveField(k.archiveAfterExtractSeconds, ro),
    h('div', { class: 'field', dataset: { field: 'enabled' } },
      h('label', { class: 'check switch', for: 'edit-enabled' }, enabled, h('span', { text: 'Enabled' })),
      h('p', { class: 'hint', text: 'When disabled the key stops working at once (verification answers DISABLED). Enable it again at any time.' })),
    moreOptions(k, ro),
  ];
  if (write) body.push(dangerZone(k, reload, () => m));
  const m = modal(ro ? 'API key' : 'Edit API key', {
    id: 'edit-key-dialog',
    size: 'lg',
    body,
    actions: [
      button('Close', { onclick: () => m.close(), id: 'edit-close' }, 'secondary'),
      ro ? null : h('button', { type: 'submit', class: 'btn primary', id: 'update-key' }, 'Update'),
    ],
    onSubmit: ro ? null : async (form) => {
      const s = readSettings(form);
      // Send only what changed (an unchanged past expiry would otherwise be refused as "not in the future").
      const payload = {};
      if (s.description !== k.description) payload.description = s.description;
      if (s.scope !== k.scope) payload.scope = s.scope;
      if (s.archiveAfterExtractSeconds !== (k.archiveAfterExtractSeconds ?? null)) payload.archiveAfterExtractSeconds = s.archiveAfterExtractSeconds;
      if (form.expiresAt.value !== (k.expiresAt ? toLocalInput(k.expiresAt) : '')) payload.expiresAt = s.expiresAt;
      const extra = (k.permissions || []).filter((p) => p !== 'candidates:read').sort().join(' ');
      if ([...s.permissions].sort().join(' ') !== extra) payload.permissions = s.permissions;
      if (enabled.checked !== k.enabled) payload.enabled = enabled.checked;
      if (!Object.keys(payload).length) {
        m.close();
        toast('Nothing changed');
        return;
      }
      await api('PATCH', `/api/v1/keys/${enc(k.id)}`, payload);
      m.close();
      toast('Key updated');
      reload();
    },
  });
  if (!ro) desc.focus();
}

function keySummary(k) {
  const rows = [
    ['Key', h('code', { text: `${k.start}…` })],
    ['Status', badge(STATUS_TEXT[k.status] || k.status, k.status)],
    ['Created', `${fmtTime(k.createdAt)} by ${k.createdBy || 'unknown'}`],
    ['Last used', k.lastUsedAt ? `${fmtTime(k.lastUsedAt)} from ${k.lastUsedIp || 'unknown address'}` : 'Never'],
  ];
  if (k.expiresAt) rows.push([k.status === 'expired' ? 'Expired' : 'Expires', fmtTime(k.expiresAt)]);
  if (k.archiveAfterExtractSeconds !== null && k.archiveAfterExtractSeconds !== undefined) rows.push(['Auto-archive', `${fmtDuration(k.archiveAfterExtractSeconds)} after extract`]);
  if (k.revokedAt) rows.push(['Revoked', fmtTime(k.revokedAt)]);
  if (k.rolledFrom) rows.push(['Rolled from', h('code', { text: k.rolledFrom })]);
  return h('dl', { class: 'summary' }, rows.map(([dt, dd]) => h('div', {}, h('dt', { text: dt }), h('dd', {}, dd))));
}

function dangerZone(k, reload, getModal) {
  const revoked = k.status === 'revoked';
  // Default grace period: one hour, long enough for a deploy to pick up the new secret.
  const grace = input('graceAmount', { type: 'number', min: 0, step: 1, value: '1', inputmode: 'numeric', id: 'roll-grace' });
  const graceUnitSel = select('graceUnit', DURATION_UNITS, '3600', { 'aria-label': 'Grace period unit', id: 'roll-grace-unit' });
  const section = h('section', { class: 'danger-zone', 'aria-labelledby': 'key-danger' },
    h('h3', { id: 'key-danger', text: revoked ? 'Delete' : 'Roll, revoke or delete' }),
    revoked ? null : h('div', { class: 'field', dataset: { field: 'expireOldAfterSeconds' } },
      h('p', { class: 'hint', text: 'Rolling issues a new secret with the same settings. The old one keeps working for the grace period, so your systems can switch over.' }),
      h('div', { class: 'inline-fields' }, h('label', { class: 'inline-label', for: 'roll-grace', text: 'Keep the old key working for' }), grace, graceUnitSel),
      h('div', { class: 'row-actions' }, button('Roll key', { id: 'roll-key', onclick: () => roll() }, 'secondary'))),
    h('div', { class: 'row-actions' },
      revoked ? null : button('Revoke', { id: 'revoke-key', onclick: () => revoke() }, 'danger secondary'),
      button('Delete', { id: 'delete-key', onclick: () => del() }, 'danger secondary')));

  async function roll() {
    const amount = Number(grace.value);
    if (grace.value === '' || !Number.isInteger(amount) || amount < 0) {
      return showError(section, fail('Enter the grace period as a whole number, 0 or more.', 'expireOldAfterSeconds'));
    }
    const seconds = amount * Number(graceUnitSel.value);
    const when = seconds === 0 ? 'The old key stops working at once.' : `The old key keeps working for ${fmtDuration(seconds)}, then expires.`;
    if (!(await confirmStep('Roll this key?', `A new secret replaces ${k.start}…. ${when}`, 'Roll key', { danger: false }))) return;
    try {
      const n = await api('POST', `/api/v1/keys/${enc(k.id)}/roll`, { expireOldAfterSeconds: seconds });
      getModal().close();
      reload();
      await secretDialog('Key rolled', n, 'Your new API key');
    } catch (err) { showError(section, err); }
  }
  async function revoke() {
    if (!(await revokeKey(k, null, section))) return;
    getModal().close();
    reload();
  }
  async function del() {
    if (!(await confirmStep('Delete this key?', `${k.description || k.start} stops working at once and disappears from the list. Its audit trail stays.`, 'Delete key'))) return;
    try {
      await api('DELETE', `/api/v1/keys/${enc(k.id)}`);
      getModal().close();
      toast('Key deleted');
      reload();
    } catch (err) { showError(section, err); }
  }
  return section;
}

// Revoke with a confirmation step. Returns true when revoked.
async function revokeKey(k, reload, errorRoot) {
  if (!(await confirmStep('Revoke this key?', `${k.description || k.start} stops working on its next request. Revocation is permanent.`, 'Revoke key'))) return false;
  try {
    await api('POST', `/api/v1/keys/${enc(k.id)}/revoke`);
  } catch (err) {
    if (errorRoot) showError(errorRoot, err);
    else toast(err.message, { error: true });
    return false;
  }
  toast('Key revoked');
  if (reload) reload();
  return true;
}
