// Token tab (seeds 002 and 003): pick a service user, give the token a label and an optional expiry, mint
// it; the token is shown once with Copy. The list shows every service user's tokens with Label, Created,
// Last used and status; revoke. Only a System Administrator mints or revokes.
import { api, canWriteKeys, enc, listAll } from './api.js';
import { fmtRelative, fmtTime, h, field, input, select } from './dom.js';
import { badge, busy, button, clearErrors, confirmStep, emptyState, restoreFocus, showError, toast } from './ui.js';
import { onceDialog, secretField } from './once.js';
import { STATUS_TEXT, listServiceUsers } from './serviceusers.js';

// The service user picked last, so that a re-render after minting keeps it selected.
let picked = null;

export async function tabTokens(svc, body, reload) {
  const users = (await listServiceUsers(svc)).sort((a, b) => a.name.localeCompare(b.name));
  const lists = await Promise.all(users.map((u) => listAll(`/api/v1/service-users/${enc(u.id)}/tokens`)));
  const byId = new Map(users.map((u) => [u.id, u]));
  const tokens = lists.flat().sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  const write = canWriteKeys();
  const head = h('div', { class: 'toolbar' }, h('div', {},
    h('h2', { text: 'Tokens' }),
    h('p', { class: 'muted', text: write
      ? 'Bearer tokens for a service user’s API calls. Mint a new one to rotate, then revoke the old one: several live at once.'
      : 'Bearer tokens of this service’s service users. Only a System Administrator can mint or revoke them.' })));

  if (!users.length) {
    body.replaceChildren(head, h('div', { class: 'card' }, emptyState('No service users yet',
      'Tokens belong to a service user. Create one on the Service users tab first.',
      h('a', { class: 'btn secondary', href: `#/services/${enc(svc.id)}/service-users`, text: 'Go to Service users' }))));
    return;
  }
  const form = write ? mintForm(svc, users, reload) : null;
  const table = tokens.length
    ? h('div', { class: 'table-wrap' }, h('table', { id: 'tokens-table', class: 'data' },
      h('caption', { class: 'sr-only', text: `Tokens of ${svc.name}` }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'Label' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Service user' }),
        h('th', { scope: 'col', class: 'hide-md', text: 'Token' }), h('th', { scope: 'col', text: 'Status' }),
        h('th', { scope: 'col', class: 'hide-sm', text: 'Created' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Last used' }),
        write ? h('th', { scope: 'col' }, h('span', { class: 'sr-only', text: 'Actions' })) : null)),
      h('tbody', {}, tokens.map((t) => tokenRow(t, byId.get(t.serviceUserId), reload, write)))))
    : emptyState('No tokens yet', write ? 'Pick a service user above and mint its first token.' : null);
  const live = tokens.filter((t) => t.status === 'active').length;
  body.replaceChildren(head, h('div', { class: 'card flush' }, form, table,
    tokens.length ? h('p', { class: 'table-foot muted', text: `${tokens.length} token${tokens.length === 1 ? '' : 's'} · ${live} active` }) : null));
  restoreFocus(body);
}

function tokenRow(t, u, reload, write) {
  const who = u ? u.name : t.serviceUserId;
  const canRevoke = t.status === 'active' || t.status === 'disabled';
  return h('tr', { class: `status-${t.status}`, dataset: { tokenId: t.id } },
    h('td', {}, h('div', { class: 'cell-main', text: t.label }), h('div', { class: 'small muted show-sm', text: who })),
    h('td', { class: 'hide-sm', text: who }),
    h('td', { class: 'hide-md' }, h('code', { class: 'keystart', text: `${t.start}…` })),
    h('td', {}, badge(STATUS_TEXT[t.status] || t.status, t.status),
      t.status === 'active' && t.expiresAt ? h('div', { class: 'small muted', text: `expires ${fmtRelative(t.expiresAt)}`, title: fmtTime(t.expiresAt) }) : null),
    h('td', { class: 'hide-sm nowrap', text: fmtTime(t.createdAt) }),
    h('td', { class: 'hide-sm nowrap', title: t.lastUsedAt ? fmtTime(t.lastUsedAt) : null, text: t.lastUsedAt ? fmtRelative(t.lastUsedAt) : 'Never' }),
    write ? h('td', { class: 'right' }, canRevoke ? button('Revoke', {
      class: 'small', dataset: { focusKey: `token-${t.id}` }, 'aria-label': `Revoke token ${t.label}`, onclick: () => revoke(t, reload),
    }, 'danger secondary') : null) : null);
}

async function revoke(t, reload) {
  if (!(await confirmStep('Revoke this token?', `${t.label} (${t.start}…) stops working on its next request. Revocation is permanent.`, 'Revoke token'))) return;
  try {
    await api('POST', `/api/v1/tokens/${enc(t.id)}/revoke`);
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  toast('Token revoked');
  reload();
}

function mintForm(svc, users, reload) {
  const enabled = users.filter((u) => u.enabled);
  if (!picked || !enabled.some((u) => u.id === picked)) picked = enabled[0]?.id || null;
  const who = select('serviceUserId', enabled.map((u) => [u.id, `${u.name} (${u.sourceSystem})`]), picked, { id: 't-user' });
  who.addEventListener('change', () => { picked = who.value; });
  const label = input('label', { id: 't-label', maxlength: 100, autocomplete: 'off', placeholder: 'e.g. prod-2025' });
  const expires = input('expiresAt', { type: 'datetime-local', id: 't-expires' });
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'mint-token', dataset: { focusKey: 'mint-token' }, disabled: !enabled.length },
    'Mint token');
  const form = h('form', { class: 'mint-form', id: 'mint-form', novalidate: true, 'aria-label': 'Mint a token' },
    field('Service user', who), field('Label', label), field('Expires (optional)', expires),
    h('div', { class: 'mint-go' }, submit),
    enabled.length ? null : h('p', { class: 'form-error mint-note', text: 'Every service user is disabled: enable one to mint tokens for it.' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const payload = { label: label.value.trim() };
    if (!payload.label) return showError(form, { message: 'Give the token a label, so you can tell it apart when you rotate it.', field: 'label' });
    if (expires.value) {
      const at = new Date(expires.value);
      if (Number.isNaN(at.getTime())) return showError(form, { message: 'Enter a valid date and time.', field: 'expiresAt' });
      if (at.getTime() <= Date.now()) return showError(form, { message: 'The expiry must be in the future.', field: 'expiresAt' });
      payload.expiresAt = at.toISOString();
    }
    const u = users.find((x) => x.id === who.value);
    await busy(submit, async () => {
      let t;
      try {
        t = await api('POST', `/api/v1/service-users/${enc(who.value)}/tokens`, payload);
      } catch (err) {
        return showError(form, err);
      }
      reload();
      await tokenDialog(t, u);
    });
  });
  return form;
}

function tokenDialog(t, u) {
  const f = secretField('Your new token', t.token, { id: 'token-value', copyLabel: 'Copy to clipboard', copyId: 'copy-token', what: 'token' });
  return onceDialog('Token minted', {
    id: 'token-dialog',
    intro: h('p', { class: 'muted' }, t.label, ' · ', u ? u.name : t.serviceUserId),
    fields: [f],
    warning: [h('strong', { text: '⚠️ The token is displayed only upon creation. ' }), 'Copy it now and store it somewhere safe: it will not be shown again.'],
    after: h('div', { class: 'usage-hint' },
      h('p', { class: 'small muted', text: 'Send it as a bearer token, for example:' }),
      h('pre', { text: `curl -H "Authorization: Bearer $TOKEN" \\\n  ${location.origin}/api/v1/auth/check` })),
    doneId: 'token-done',
  });
}
