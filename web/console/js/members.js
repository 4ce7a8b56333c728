// Members tab: who may act on this service, and how. Admins (and System Administrators) manage it.
import { api, canManageMembers, enc, isSysadmin, listAll, session } from './api.js';
import { fmtTime, h, field, input, select } from './dom.js';
import { badge, busy, button, clearErrors, confirmStep, emptyState, restoreFocus, showError, toast } from './ui.js';

const ROLES = [
  ['admin', 'Admin', 'Manages members; reads everything of the service.'],
  ['operator', 'Operator', 'Handles records; reads keys, usage and audit.'],
  ['viewer', 'Viewer', 'Reads the service.'],
];
const ROLE_OPTIONS = ROLES.map(([v, label]) => [v, label]);
const roleLabel = (r) => ROLES.find(([v]) => v === r)?.[1] || r;

export async function tabMembers(svc, body, reload) {
  const manage = canManageMembers(svc.id);
  const [members, users] = await Promise.all([
    listAll(`/api/v1/services/${enc(svc.id)}/members`),
    isSysadmin() ? listAll('/api/v1/users').catch(() => []) : Promise.resolve([]),
  ]);

  const head = h('div', { class: 'toolbar' }, h('div', {},
    h('h2', { text: 'Members' }),
    h('p', { class: 'muted', text: 'Admins manage members, operators handle records, viewers read. Only a System Administrator creates or changes API keys.' })));

  const form = manage ? addMemberForm(svc, members, users, reload) : null;
  const table = members.length
    ? h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'members-table' },
      h('caption', { class: 'sr-only', text: `Members of ${svc.name}` }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Person' }), h('th', { scope: 'col', text: 'Role' }),
        h('th', { scope: 'col', class: 'hide-sm', text: 'Added' }), manage ? h('th', { scope: 'col' }, h('span', { class: 'sr-only', text: 'Actions' })) : null)),
      h('tbody', {}, members.map((m) => memberRow(svc, m, manage, reload)))))
    : emptyState('No members yet', manage ? 'Add people by username. They must already have a keyward account.' : null);

  body.replaceChildren(head, h('div', { class: 'card flush' }, form, table),
    h('dl', { class: 'legend-roles' }, ROLES.map(([, label, text]) => h('div', {}, h('dt', { text: label }), h('dd', { class: 'muted', text })))));
  restoreFocus(body);
}

function addMemberForm(svc, members, users, reload) {
  const taken = new Set(members.map((m) => m.username));
  const listId = 'member-candidates';
  const username = input('username', { id: 'm-user', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', list: users.length ? listId : null, placeholder: 'username' });
  const role = select('role', ROLE_OPTIONS, 'viewer', { id: 'm-role' });
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'add-member-submit' }, 'Add member');
  const form = h('form', { class: 'add-member', id: 'add-member', novalidate: true, 'aria-label': 'Add a member' },
    field('Username', username), field('Role', role),
    h('div', { class: 'add-member-go' }, submit),
    users.length ? h('datalist', { id: listId }, users.filter((u) => !taken.has(u.username) && !u.disabled).map((u) => h('option', { value: u.username }))) : null);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const name = username.value.trim();
    if (!name) return showError(form, { message: 'Enter the username of the person to add.', field: 'username' });
    await busy(submit, async () => {
      try {
        await api('POST', `/api/v1/services/${enc(svc.id)}/members`, { username: name, role: role.value });
        toast(`${name} added as ${roleLabel(role.value).toLowerCase()}`);
        reload();
      } catch (err) {
        if (err.status === 404 && (err.field === 'username' || !err.field)) err.message = `There is no keyward account named “${name}”. A System Administrator creates accounts under People.`;
        if (err.code === 'MEMBER_EXISTS') err.message = `${name} is already a member of this service.`;
        showError(form, err.field ? err : Object.assign(err, { field: 'username' }));
      }
    });
  });
  return form;
}

function memberRow(svc, m, manage, reload) {
  const self = m.username === session.user?.username;
  const cell = h('td', { class: 'field', dataset: { field: 'role' } });
  if (manage) {
    const sel = select('role', ROLE_OPTIONS, m.role, { 'aria-label': `Role of ${m.username}`, id: `role-${m.username}`, class: 'compact' });
    sel.addEventListener('change', async () => {
      clearErrors(cell);
      sel.disabled = true;
      try {
        await api('PATCH', `/api/v1/services/${enc(svc.id)}/members/${enc(m.username)}`, { role: sel.value });
        m.role = sel.value;
        toast(`${m.username} is now ${roleLabel(sel.value).toLowerCase()}`);
      } catch (err) {
        sel.value = m.role;
        showError(cell, Object.assign(err, { field: 'role' }));
      } finally {
        sel.disabled = false;
      }
    });
    cell.append(sel);
  } else {
    cell.append(badge(roleLabel(m.role), 'role'));
  }
  const remove = manage ? button('Remove', {
    class: 'small', dataset: { focusKey: `member-${m.username}` }, 'aria-label': `Remove ${m.username}`,
    onclick: async () => {
      const text = self ? 'You lose access to this service unless you are a System Administrator.' : `${m.username} loses access to ${svc.name}.`;
      if (!(await confirmStep(`Remove ${m.username}?`, text, 'Remove member'))) return;
      try {
        await api('DELETE', `/api/v1/services/${enc(svc.id)}/members/${enc(m.username)}`);
        toast(`${m.username} removed`);
        reload();
      } catch (err) { showError(actions, err); }
    },
  }, 'danger secondary') : null;
  const actions = manage ? h('td', { class: 'right' }, remove) : null;
  return h('tr', { dataset: { member: m.username } },
    h('td', {}, h('span', { class: 'avatar sm', 'aria-hidden': 'true', text: m.username.slice(0, 1).toUpperCase() }), ' ', m.username,
      self ? h('span', { class: 'muted', text: ' (you)' }) : null),
    cell,
    h('td', { class: 'hide-sm nowrap', text: fmtTime(m.createdAt) }),
    actions);
}
