// Audit tab: this service's events, newest first, filtered by action / actor / period, paged with nextCursor.
import { api, enc } from './api.js';
import { fmtSeconds, fmtTime, h, field, input, select } from './dom.js';
import { badge, busy, clearErrors, emptyState, showError } from './ui.js';

const ACTIONS = {
  'service.create': 'Service created', 'service.update': 'Service changed', 'service.delete': 'Service deleted',
  'key.create': 'Key created', 'key.update': 'Key changed', 'key.revoke': 'Key revoked', 'key.roll': 'Key rolled',
  'key.delete': 'Key deleted', 'key.verify': 'Key verified',
  'member.add': 'Member added', 'member.update': 'Member role changed', 'member.remove': 'Member removed',
  'session.create': 'Signed in', 'session.delete': 'Signed out',
  'user.create': 'Person added', 'user.update': 'Person changed', 'user.delete': 'Person deleted',
  'auth.denied': 'Refused credential', 'root_token.rotate': 'Root token rotated',
  'service_user.create': 'Service user created', 'service_user.update': 'Service user changed',
  'service_user.delete': 'Service user deleted', 'service_user.reset_secret': 'Client secret reset',
  'token.create': 'Token minted', 'token.revoke': 'Token revoked',
  'access_key.create': 'Access key created', 'access_key.update': 'Access key changed', 'access_key.delete': 'Access key deleted',
};
const ACTION_FILTERS = ['key.*', 'service.*', 'member.*', 'service_user.*', 'token.*', 'access_key.*',
  ...Object.keys(ACTIONS).filter((a) => /^(key|service|member|service_user|token|access_key)\./.test(a))];
const PERIODS = [['', 'Any time'], ['3600', 'Last hour'], ['86400', 'Last 24 hours'], ['604800', 'Last 7 days'], ['2592000', 'Last 30 days']];
const PAGE = 25;

function actorText(a, detail) {
  if (!a) return ['—', ''];
  if (a.type === 'root') return ['root token', 'automation'];
  if (a.type === 'user') return [a.id, 'person'];
  if (a.type === 'key') return [a.id, 'API key'];
  if (a.type === 'service_user') {
    // The credential it used (token, access key, JWT, signature) is in the event's detail.
    const via = detail?.credentialType ? ` · ${detail.credentialType}${detail.credentialId ? ` ${detail.credentialId}` : ''}` : '';
    return [a.id, `service user${via}`];
  }
  return [a.id || a.type, a.type];
}

export async function tabAudit(svc, body) {
  const action = input('action', { id: 'f-action', list: 'audit-actions', placeholder: 'e.g. key.* or key.create', autocomplete: 'off', spellcheck: 'false' });
  const actor = input('actor', { id: 'f-actor', placeholder: 'username, key id or root', autocomplete: 'off', spellcheck: 'false' });
  const period = select('period', PERIODS, '', { id: 'f-period' });
  const apply = h('button', { type: 'submit', class: 'btn primary', id: 'audit-filter' }, 'Apply');
  const reset = h('button', { type: 'button', class: 'btn secondary', id: 'audit-reset' }, 'Reset');
  const form = h('form', { class: 'filters', novalidate: true, role: 'search', 'aria-label': 'Filter events' },
    field('Action', action), field('Actor', actor), field('Period', period),
    h('div', { class: 'filters-go' }, apply, reset),
    h('datalist', { id: 'audit-actions' }, ACTION_FILTERS.map((a) => h('option', { value: a }, ACTIONS[a] || 'any of these'))));
  const tbody = h('tbody');
  const summary = h('p', { class: 'table-foot muted', role: 'status', id: 'audit-summary' });
  const more = h('button', { type: 'button', class: 'btn secondary', id: 'audit-more', hidden: true }, 'Load more');
  let cursor = null;
  let shown = 0;

  async function load(resetList) {
    const q = new URLSearchParams({ serviceId: svc.id, limit: String(PAGE) });
    if (action.value.trim()) q.set('action', action.value.trim());
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    if (period.value) q.set('since', new Date(Date.now() - Number(period.value) * 1000).toISOString());
    if (!resetList && cursor) q.set('cursor', cursor);
    clearErrors(form);
    let page;
    try {
      page = await api('GET', `/api/v1/audit?${q}`);
    } catch (err) {
      if (err.status === 401) return;
      const param = { action: 'action', actor: 'actor', since: 'period' }[err.field] || (/action/i.test(err.message) ? 'action' : null);
      showError(form, Object.assign(err, { field: param }));
      return;
    }
    if (resetList) { tbody.replaceChildren(); shown = 0; }
    for (const e of page.items) tbody.append(...eventRows(e));
    shown += page.items.length;
    if (!shown) tbody.append(h('tr', {}, h('td', { colspan: 6 }, emptyState('No events match', 'Try a wider period, or clear the filters.'))));
    cursor = page.nextCursor;
    more.hidden = !cursor;
    summary.textContent = shown ? `${shown} event${shown === 1 ? '' : 's'} shown${cursor ? ' · more available' : ' · end of the trail'}` : '';
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); busy(apply, () => load(true)); });
  reset.addEventListener('click', () => { form.reset(); busy(apply, () => load(true)); });
  more.addEventListener('click', () => busy(more, () => load(false)));

  body.replaceChildren(
    h('div', { class: 'toolbar' }, h('div', {}, h('h2', { text: 'Audit trail' }),
      h('p', { class: 'muted', text: 'Every change and every refused call on this service, newest first. Entries are hash-chained, so tampering shows.' }))),
    h('div', { class: 'card flush' }, form,
      h('div', { class: 'table-wrap' }, h('table', { id: 'audit-table', class: 'data' },
        h('caption', { class: 'sr-only', text: `Audit events of ${svc.name}` }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: 'Time' }), h('th', { scope: 'col', text: 'Actor' }), h('th', { scope: 'col', text: 'Action' }),
          h('th', { scope: 'col', class: 'hide-md', text: 'Target' }), h('th', { scope: 'col', text: 'Outcome' }),
          h('th', { scope: 'col', class: 'hide-sm', text: 'IP' }))),
        tbody)),
      h('div', { class: 'pager' }, summary, more)));
  await load(true);
}

function eventRows(e) {
  const [who, kind] = actorText(e.actor, e.detail);
  const detailId = `evt-${e.id}`;
  const toggle = h('button', { type: 'button', class: 'rowlink time', 'aria-expanded': 'false', 'aria-controls': detailId,
    title: fmtTime(e.time) }, h('span', { class: 'chev', 'aria-hidden': 'true', text: '▸' }), fmtSeconds(e.time));
  const detail = h('tr', { class: 'event-detail', id: detailId, hidden: true },
    h('td', { colspan: 6 }, h('dl', { class: 'summary' },
      [['Event', e.id], ['Sequence', String(e.seq)], ['Request', e.requestId], ['Target', e.target ? `${e.target.type} ${e.target.id}` : '—'],
        ['IP', e.ip || '—'], ['Hash', e.hash]].map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { class: 'mono wrap', text: v || '—' }))),
      e.detail ? h('div', {}, h('dt', { text: 'Detail' }), h('dd', {}, h('pre', { text: JSON.stringify(e.detail, null, 2) }))) : null)));
  toggle.addEventListener('click', () => {
    const open = detail.hidden;
    detail.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.querySelector('.chev').textContent = open ? '▾' : '▸';
  });
  const row = h('tr', { dataset: { action: e.action } },
    h('td', { class: 'c-time nowrap' }, toggle),
    h('td', { class: 'c-actor' }, h('div', { class: 'cell-main', text: who }), kind ? h('div', { class: 'small muted', text: kind }) : null),
    h('td', { class: 'c-action' }, h('div', { class: 'cell-main', text: ACTIONS[e.action] || e.action }), h('code', { class: 'small muted action-code', text: e.action })),
    h('td', { class: 'c-target hide-md mono small wrap', text: e.target ? e.target.id : '—' }),
    h('td', { class: 'c-outcome' }, badge(e.outcome, e.outcome)),
    h('td', { class: 'c-ip hide-sm mono small', text: e.ip || '—' }));
  return [row, detail];
}
