// Services list, and the create / edit / delete service dialog (System Administrator only).
import { api, enc, isSysadmin, listAll, roleOn } from './api.js';
import { h, field, input, fmtTime } from './dom.js';
import { badge, button, confirmStep, emptyState, loading, modal, restoreFocus, toast } from './ui.js';

const MEMBER_ROLE = { sysadmin: null, admin: 'Admin', operator: 'Operator', viewer: 'Viewer' };

// alive(): false once a newer route has started (app.js); then this one leaves the page alone.
export async function viewServices(app, { focus, alive = () => true } = {}) {
  document.title = 'Services · keyward';
  const list = h('div', { class: 'services-area' }, loading('Loading services…'));
  const page = h('div', { class: 'page' },
    h('div', { class: 'pagehead' },
      h('div', {},
        h('h1', { tabindex: -1, text: 'Services' }),
        h('p', { class: 'muted', text: 'Each service has its own API keys, members, audit trail and usage.' })),
      isSysadmin() ? button('Create service', { id: 'create-service', dataset: { focusKey: 'create-service' }, onclick: () => serviceDialog() }) : null),
    list);
  app.replaceChildren(page);
  if (focus) page.querySelector('h1').focus();

  const items = await listAll('/api/v1/services');
  if (!alive()) return;
  if (!items.length) {
    list.replaceChildren(h('div', { class: 'card' }, isSysadmin()
      ? emptyState('No services yet', 'A service is one integration: it owns API keys, members and an audit trail.',
        button('Create your first service', { onclick: () => serviceDialog() }))
      : emptyState('No services for you yet', 'Ask a System Administrator to add you to a service.')));
    return;
  }
  list.replaceChildren(h('ul', { class: 'services', role: 'list' }, items.map((s) => {
    const role = MEMBER_ROLE[roleOn(s.id)];
    return h('li', {}, h('a', { class: 'service-card card', href: `#/services/${enc(s.id)}/keys`, dataset: { focusKey: `svc-${s.id}` } },
      h('div', { class: 'service-card-top' },
        h('span', { class: 'service-icon', 'aria-hidden': 'true', text: s.name.slice(0, 1).toUpperCase() }),
        h('span', { class: 'service-name', text: s.name }),
        role ? badge(role, 'role') : null),
      h('p', { class: 'service-desc muted', text: s.description || 'No description' }),
      h('div', { class: 'service-meta' },
        h('span', {}, 'Key prefix ', h('code', { text: `${s.keyPrefix}_` })),
        h('span', { class: 'muted', text: `Created ${fmtTime(s.createdAt)}` }))));
  })));
  restoreFocus(page);
}

// Create (svc undefined) or edit a service. Editing also offers deletion, with a confirmation step.
export function serviceDialog(svc, { onSaved } = {}) {
  const name = input('name', { value: svc?.name || '', maxlength: 100, required: true, autocomplete: 'off', id: 'svc-name' });
  const description = h('textarea', { name: 'description', rows: 3, maxlength: 500, id: 'svc-desc' });
  description.value = svc?.description || '';
  const prefix = input('keyPrefix', { value: svc?.keyPrefix || 'kw', maxlength: 16, autocomplete: 'off', spellcheck: 'false', id: 'svc-prefix' });
  const body = [
    field('Name', name),
    field('Description (optional)', description),
    field('Key prefix', prefix, { hint: svc
      ? 'A new prefix applies to keys created from now on; existing keys keep theirs.'
      : 'New keys start with it, like acme_… A lowercase letter, then up to 15 lowercase letters or digits.' }),
  ];
  if (svc) {
    body.push(h('section', { class: 'danger-zone', 'aria-labelledby': 'svc-danger' },
      h('h3', { id: 'svc-danger', text: 'Delete this service' }),
      h('p', { class: 'muted', text: 'Its keys stop working at once. The audit trail stays.' }),
      button('Delete service', { id: 'delete-service', onclick: () => deleteService() }, 'danger secondary')));
  }
  const m = modal(svc ? 'Edit service' : 'Create service', {
    id: 'service-dialog',
    body,
    actions: [
      button('Cancel', { onclick: () => m.close() }, 'secondary'),
      h('button', { type: 'submit', class: 'btn primary', id: 'service-submit' }, svc ? 'Save changes' : 'Create service'),
    ],
    onSubmit: async () => {
      const payload = { name: name.value.trim(), description: description.value.trim(), keyPrefix: prefix.value.trim() };
      if (!payload.name) throw Object.assign(new Error('Give the service a name.'), { field: 'name' });
      if (!/^[a-z][a-z0-9]{0,15}$/.test(payload.keyPrefix)) {
        throw Object.assign(new Error('Use a lowercase letter, then up to 15 lowercase letters or digits: no spaces, capitals or symbols.'), { field: 'keyPrefix' });
      }
      const saved = svc ? await api('PATCH', `/api/v1/services/${enc(svc.id)}`, payload) : await api('POST', '/api/v1/services', payload);
      m.close();
      toast(svc ? 'Service saved' : `Service “${saved.name}” created`);
      if (onSaved) onSaved(saved);
      else location.hash = `#/services/${enc(saved.id)}/keys`;
    },
  });

  async function deleteService() {
    if (!(await confirmStep(`Delete “${svc.name}”?`, 'The service, its members and its keys are deleted. Keys stop verifying at once.', 'Delete service'))) return;
    try {
      await api('DELETE', `/api/v1/services/${enc(svc.id)}`);
    } catch (err) {
      if (err.code !== 'SERVICE_HAS_LIVE_KEYS') return toast(err.message, { error: true });
      if (!(await confirmStep('This service still has live keys', 'Active or disabled keys still belong to it. Delete the service and its keys anyway? Integrations using them stop working now.', 'Delete service and keys'))) return;
      try {
        await api('DELETE', `/api/v1/services/${enc(svc.id)}?force=true`);
      } catch (err2) {
        return toast(err2.message, { error: true });
      }
    }
    m.close();
    toast(`Service “${svc.name}” deleted`);
    location.hash = '#/services';
  }
  return m;
}
