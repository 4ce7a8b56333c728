// People (System Administrator only): accounts that can sign in to the console.
import { api, enc, listAll, session } from './api.js';
import { fmtRelative, fmtTime, h, field, input, select } from './dom.js';
import { badge, button, confirmStep, emptyState, loading, modal, restoreFocus, toast } from './ui.js';

const ROLES = [['user', 'User'], ['sysadmin', 'System Administrator']];
const roleName = (r) => ROLES.find(([v]) => v === r)?.[1] || r;

// alive(): false once a newer route has started (app.js); then this one leaves the page alone.
export async function viewPeople(app, { focus, alive = () => true } = {}) {
  document.title = 'People · keyward';
  const area = h('div', {}, loading('Loading people…'));
  const page = h('div', { class: 'page' },
    h('div', { class: 'pagehead' },
      h('div', {},
        h('h1', { tabindex: -1, text: 'People' }),
        h('p', { class: 'muted', text: 'Accounts that sign in to this console. Give them access to a service from its Members tab.' })),
      button('Add person', { id: 'add-person', dataset: { focusKey: 'add-person' }, onclick: () => personDialog(null, render) })),
    area);
  app.replaceChildren(page);
  if (focus) page.querySelector('h1').focus();

  async function render() {
    const users = await listAll('/api/v1/users');
    if (!alive()) return;
    if (!users.length) {
      area.replaceChildren(h('div', { class: 'card' }, emptyState('No people yet', 'Add the people who manage services and keys.')));
      return;
    }
    area.replaceChildren(h('div', { class: 'card flush' }, h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'people-table' },
      h('caption', { class: 'sr-only', text: 'People' }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Username' }), h('th', { scope: 'col', text: 'Role' }),
        h('th', { scope: 'col', text: 'Status' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Created' }),
        h('th', { scope: 'col', class: 'hide-sm', text: 'Last sign-in' }))),
      h('tbody', {}, users.map((u) => {
        const self = u.username === session.user?.username;
        const open = () => personDialog(u, render);
        return h('tr', { class: 'clickable', dataset: { user: u.username }, onclick: (e) => { if (!e.target.closest('button')) open(); } },
          h('td', {}, h('button', { type: 'button', class: 'rowlink', dataset: { focusKey: `user-${u.username}` }, onclick: open, 'aria-label': `Edit ${u.username}` },
            h('span', { class: 'avatar sm', 'aria-hidden': 'true', text: u.username.slice(0, 1).toUpperCase() }), ' ', u.username),
          self ? h('span', { class: 'muted', text: ' (you)' }) : null),
          h('td', {}, u.role === 'sysadmin' ? badge('System Administrator', 'role') : 'User'),
          h('td', {}, u.disabled ? badge('Disabled', 'disabled') : badge('Active', 'active')),
          h('td', { class: 'hide-sm nowrap', text: fmtTime(u.createdAt) }),
          h('td', { class: 'hide-sm nowrap', title: u.lastLoginAt ? fmtTime(u.lastLoginAt) : null, text: u.lastLoginAt ? fmtRelative(u.lastLoginAt) : 'Never' }));
      }))))));
    restoreFocus(area);
  }
  await render();
}

// Add (u null) or change a person: role, disabled, password reset; delete with a confirmation step.
// A System Administrator cannot disable, demote or delete themselves here, so nobody locks themselves out by a slip.
function personDialog(u, reload) {
  const self = u && u.username === session.user?.username;
  const username = input('username', { id: 'p-username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', value: u?.username || '', disabled: Boolean(u) });
  const password = input('password', { type: 'password', id: 'p-password', autocomplete: 'new-password' });
  const role = select('role', ROLES, u?.role || 'user', { id: 'p-role', disabled: self });
  const disabled = h('input', { type: 'checkbox', name: 'disabled', id: 'p-disabled', checked: u?.disabled, disabled: self });
  const body = [
    field('Username', username, { hint: u ? null : '3 to 63 characters: lowercase letters, digits, dot, dash or underscore.' }),
    field(u ? 'New password (optional)' : 'Password', password, { hint: u ? 'Leave empty to keep the current password. Setting one ends their sessions.' : 'At least 12 characters. Share it with them safely; they can change it after signing in.' }),
    field('Role', role, { hint: self ? 'You cannot change your own role.' : 'A System Administrator manages every service, key and person. Users act on services they are members of.' }),
  ];
  if (u) {
    body.push(h('div', { class: 'field', dataset: { field: 'disabled' } },
      h('label', { class: 'check', for: 'p-disabled' }, disabled, h('span', { text: 'Disabled: cannot sign in' })),
      h('p', { class: 'hint', text: self ? 'You cannot disable your own account.' : 'Disabling ends their sessions at once.' })));
    if (!self) {
      body.push(h('section', { class: 'danger-zone', 'aria-labelledby': 'p-danger' },
        h('h3', { id: 'p-danger', text: 'Delete this person' }),
        h('p', { class: 'muted', text: 'Ends their sessions and removes them from every service. Their audit trail stays.' }),
        button('Delete person', { id: 'delete-person', onclick: () => del() }, 'danger secondary')));
    }
  }
  const m = modal(u ? `Edit ${u.username}` : 'Add person', {
    id: 'person-dialog',
    body,
    actions: [
      button('Cancel', { onclick: () => m.close() }, 'secondary'),
      h('button', { type: 'submit', class: 'btn primary', id: 'person-submit' }, u ? 'Save changes' : 'Add person'),
    ],
    onSubmit: async () => {
      if (!u) {
        const created = await api('POST', '/api/v1/users', { username: username.value.trim(), password: password.value, role: role.value });
        m.close();
        toast(`${created.username} added`);
        return reload();
      }
      const payload = {};
      if (!self && role.value !== u.role) payload.role = role.value;
      if (!self && disabled.checked !== u.disabled) payload.disabled = disabled.checked;
      if (password.value) payload.password = password.value;
      if (self && payload.password) {
        throw Object.assign(new Error('Change your own password from the account menu (it asks for the current one).'), { field: 'password' });
      }
      if (Object.keys(payload).length) await api('PATCH', `/api/v1/users/${enc(u.username)}`, payload);
      m.close();
      toast(Object.keys(payload).length ? `${u.username} saved` : 'Nothing changed');
      return reload();
    },
  });

  async function del() {
    if (!(await confirmStep(`Delete ${u.username}?`, 'They can no longer sign in and lose every membership. This cannot be undone.', 'Delete person'))) return;
    try {
      await api('DELETE', `/api/v1/users/${enc(u.username)}`);
    } catch (err) {
      return toast(err.message, { error: true });
    }
    m.close();
    toast(`${u.username} deleted`);
    reload();
  }
}
