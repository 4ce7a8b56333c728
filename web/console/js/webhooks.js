// Webhooks tab (seed 000's Webhooks, issue 10; Standard Webhooks): for the service's admins and System
// Administrators. The list; create with URL, events and a description (the signing secret is shown once);
// a webhook's page (#/services/<id>/webhooks/<whId>) with enable/disable, edit, rotate secret (shown once;
// the old secret keeps signing for 24 h), delete, and its deliveries with every attempt and Retry.
import { api, canManageMembers, enc, listAll } from './api.js';
import { fmtRelative, fmtSeconds, fmtTime, h, field, input, nextId } from './dom.js';
import { badge, busy, button, confirmStep, emptyState, modal, restoreFocus, showError, toast } from './ui.js';
import { onceDialog, secretField } from './once.js';

export const EVENTS = [
  ['document.ingested', 'A document was ingested'],
  ['candidate.created', 'A candidate was created'],
  ['candidate.status_changed', 'A candidate’s status changed'],
  ['candidate.archived', 'A candidate was archived'],
  ['key.created', 'An API key was created'],
  ['key.revoked', 'An API key was revoked'],
  ['key.rolled', 'An API key was rolled'],
  ['key.deleted', 'An API key was deleted'],
  ['token.revoked', 'A service user’s token was revoked'],
];
const DL_STATE = { pending: 'Pending', sending: 'Sending', delivered: 'Delivered', succeeded: 'Delivered', failed: 'Failed' };
const DISABLED_WHY = { gone: 'the receiver answered 410 Gone', operator: 'turned off by an admin' };
const PAGE = 25;

const base = (svc) => `/api/v1/services/${enc(svc.id)}/webhooks`;
const whStatus = (w) => (w.enabled ? badge('Enabled', 'wh-enabled') : badge('Disabled', 'wh-disabled'));
const eventChips = (events) => h('div', { class: 'chips wh-events' }, (events || []).map((e) => h('code', { class: 'chip', text: e })));

export async function tabWebhooks(svc, body, reload, { sub } = {}) {
  if (!canManageMembers(svc.id)) {
    body.replaceChildren(h('div', { class: 'card' }, emptyState('Webhooks are managed by admins',
      'The admins of this service and System Administrators set up webhooks.')));
    return;
  }
  if (sub) return viewWebhook(svc, body, sub);
  const hooks = (await listAll(base(svc))).sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  const head = h('div', { class: 'toolbar' },
    h('div', {}, h('h2', { text: 'Webhooks' }),
      h('p', { class: 'muted', text: 'keyward POSTs a signed JSON event to these URLs when something happens in this service (Standard Webhooks: '
        + 'webhook-id, webhook-timestamp and webhook-signature headers). Failed deliveries are retried for about a day.' })),
    button('Add webhook', { id: 'create-webhook', dataset: { focusKey: 'create-webhook' }, onclick: () => webhookDialog(svc, null, reload) }));
  if (!hooks.length) {
    body.replaceChildren(head, h('div', { class: 'card' }, emptyState('No webhooks yet',
      'Add one to be told when documents are ingested, candidates change or keys are revoked.')));
    restoreFocus(body);
    return;
  }
  body.replaceChildren(head, h('div', { class: 'card flush' },
    h('div', { class: 'table-wrap' }, h('table', { id: 'webhooks-table', class: 'data' },
      h('caption', { class: 'sr-only', text: `Webhooks of ${svc.name}` }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'Endpoint' }), h('th', { scope: 'col', class: 'hide-md', text: 'Events' }),
        h('th', { scope: 'col', text: 'Status' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Created' }),
        h('th', { scope: 'col', class: 'hide-sm' }, h('span', { class: 'sr-only', text: 'Actions' })))),
      h('tbody', {}, hooks.map((w) => hookRow(svc, w, reload))))),
    h('p', { class: 'table-foot muted', text: `${hooks.length} webhook${hooks.length === 1 ? '' : 's'} · ${hooks.filter((w) => w.enabled).length} enabled` })));
  restoreFocus(body);
}

function hookRow(svc, w, reload) {
  const href = `#/services/${enc(svc.id)}/webhooks/${enc(w.id)}`;
  return h('tr', { dataset: { webhookId: w.id } },
    h('td', {},
      h('a', { class: 'rowlink wh-url', href, dataset: { focusKey: `wh-${w.id}` }, text: w.url }),
      w.description ? h('div', { class: 'small muted', text: w.description }) : null,
      h('div', { class: 'small muted show-md', text: `${(w.events || []).length} event${(w.events || []).length === 1 ? '' : 's'}` })),
    h('td', { class: 'hide-md' }, eventChips(w.events)),
    h('td', {}, whStatus(w), !w.enabled && w.disabledReason
      ? h('div', { class: 'small muted', text: DISABLED_WHY[w.disabledReason] || w.disabledReason }) : null),
    h('td', { class: 'hide-sm nowrap', text: fmtTime(w.createdAt) }),
    h('td', { class: 'hide-sm right nowrap' },
      button(w.enabled ? 'Disable' : 'Enable', { class: 'small', dataset: { action: w.enabled ? 'disable' : 'enable' },
        'aria-label': `${w.enabled ? 'Disable' : 'Enable'} ${w.url}`, onclick: () => setEnabled(w, !w.enabled, reload) }, 'secondary')));
}

async function setEnabled(w, enabled, after) {
  if (!enabled && !(await confirmStep('Disable this webhook?',
    `${w.url} gets no more events until you enable it again. Pending deliveries wait.`, 'Disable', { danger: false }))) return;
  try {
    await api('PATCH', `/api/v1/webhooks/${enc(w.id)}`, { enabled });
  } catch (err) {
    if (err.status !== 401) toast(err.message, { error: true });
    return;
  }
  toast(`Webhook ${enabled ? 'enabled' : 'disabled'}`);
  after();
}

function secretDialog(title, w, intro) {
  const f = secretField('Signing secret', w.secret, { id: 'wh-secret', copyId: 'copy-wh-secret', what: 'secret' });
  return onceDialog(title, {
    id: 'wh-secret-dialog',
    intro: h('p', { class: 'muted' }, intro, ' ', h('span', { class: 'wh-url', text: w.url })),
    fields: [f],
    warning: [h('strong', { text: '⚠️ The secret is displayed only now. ' }),
      'Store it in the receiver: it verifies the webhook-signature header. It will not be shown again.'],
    doneId: 'wh-secret-done',
  });
}

// Create (w null) or edit: URL, description, events.
function webhookDialog(svc, w, after) {
  // A text field with a URL keyboard: checked here and by the server, in words rather than the browser's bubble.
  const url = input('url', { id: 'wh-url', inputmode: 'url', value: w?.url || '', maxlength: 2048, autocomplete: 'off', spellcheck: 'false',
    autocapitalize: 'none', placeholder: 'https://receiver.example.com/keyward' });
  const desc = input('description', { id: 'wh-desc', value: w?.description || '', maxlength: 200, autocomplete: 'off', placeholder: 'optional' });
  const legendId = nextId('wh-ev');
  const chosen = new Set(w ? w.events : EVENTS.map(([e]) => e));
  const m = modal(w ? 'Edit webhook' : 'Add webhook', {
    id: 'webhook-dialog',
    body: [
      field('Endpoint URL', url, { hint: 'http or https; keyward POSTs the events here and treats any 2xx as delivered.' }),
      field('Description', desc),
      h('fieldset', { class: 'field perms', dataset: { field: 'events' }, 'aria-labelledby': legendId },
        h('legend', { id: legendId, text: 'Events' }),
        h('div', { class: 'events-grid' }, EVENTS.map(([e, label]) => {
          const id = nextId('wh-ev');
          return h('label', { class: 'check', for: id, title: label },
            h('input', { type: 'checkbox', name: 'events', value: e, id, checked: chosen.has(e) }), h('code', { text: e }));
        }))),
    ],
    actions: [
      button('Cancel', { onclick: () => m.close() }, 'secondary'),
      h('button', { type: 'submit', class: 'btn primary', id: 'webhook-submit' }, w ? 'Save' : 'Add webhook'),
    ],
    onSubmit: async (form) => {
      const payload = {
        url: url.value.trim(), description: desc.value.trim(),
        events: [...form.querySelectorAll('input[name=events]:checked')].map((c) => c.value),
      };
      if (!/^https?:\/\/[^\s/]+/i.test(payload.url)) {
        throw Object.assign(new Error('Enter an absolute http:// or https:// URL.'), { field: 'url' });
      }
      if (!payload.events.length) throw Object.assign(new Error('Choose at least one event.'), { field: 'events' });
      let r;
      try {
        r = w ? await api('PATCH', `/api/v1/webhooks/${enc(w.id)}`, payload) : await api('POST', base(svc), payload);
      } catch (err) {
        if (!err.field && /URL/.test(err.code || '')) err.field = 'url';
        if (err.field && /^events/.test(err.field)) err.field = 'events';
        throw err;
      }
      m.close();
      after();
      if (!w) await secretDialog('Webhook added', r, 'Events go to');
      else toast('Webhook saved');
    },
  });
}

// ---------- one webhook ----------
async function viewWebhook(svc, body, id) {
  const back = h('a', { class: 'back', href: `#/services/${enc(svc.id)}/webhooks`, id: 'wh-back' }, '← All webhooks');
  let w;
  try {
    w = await api('GET', `/api/v1/webhooks/${enc(id)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
    body.replaceChildren(back, h('div', { class: 'card' }, emptyState('No such webhook', 'It may have been deleted.')));
    return;
  }
  document.title = `${w.url} · Webhooks · ${svc.name} · keyward`;
  const again = () => viewWebhook(svc, body, id);
  const title = h('h2', { tabindex: -1, id: 'wh-title', class: 'wh-url' }, w.url);
  const rows = [
    ['Status', [whStatus(w), !w.enabled && w.disabledReason ? h('span', { class: 'small muted', text: ` ${DISABLED_WHY[w.disabledReason] || w.disabledReason}` }) : null]],
    ['Description', w.description || '—'],
    ['Webhook ID', h('code', { class: 'wrap', text: w.id })],
    ['Created', fmtTime(w.createdAt)],
    ['Changed', fmtTime(w.updatedAt)],
  ];
  const info = h('section', { class: 'card', 'aria-labelledby': 'wh-info-title' },
    h('h3', { id: 'wh-info-title', text: 'Endpoint' }),
    h('dl', { class: 'summary' }, rows.map(([dt, dd]) => h('div', {}, h('dt', { text: dt }), h('dd', {}, dd)))),
    h('h4', { text: 'Events' }), eventChips(w.events),
    h('div', { class: 'row-actions', id: 'wh-actions' },
      button(w.enabled ? 'Disable' : 'Enable', { id: 'wh-toggle', onclick: () => setEnabled(w, !w.enabled, again) }, 'secondary'),
      button('Edit', { id: 'wh-edit', onclick: () => webhookDialog(svc, w, again) }, 'secondary'),
      button('Rotate secret', { id: 'wh-rotate', onclick: () => rotate() }, 'secondary'),
      button('Delete', { id: 'wh-delete', onclick: () => remove() }, 'danger secondary')));

  async function rotate() {
    if (!(await confirmStep('Rotate the signing secret?',
      'A new secret signs every delivery from now on. For 24 hours the old one signs too (two signatures in webhook-signature), so the receiver can switch over.',
      'Rotate secret', { danger: false }))) return;
    let r;
    try {
      r = await api('POST', `/api/v1/webhooks/${enc(w.id)}/rotate-secret`);
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
      return;
    }
    await secretDialog('New signing secret', { ...w, ...r }, 'The old secret keeps signing for 24 hours. Events go to');
  }
  async function remove() {
    if (!(await confirmStep('Delete this webhook?', `${w.url} gets no more events, and its pending deliveries are dropped.`, 'Delete webhook'))) return;
    try {
      await api('DELETE', `/api/v1/webhooks/${enc(w.id)}`);
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
      return;
    }
    toast('Webhook deleted');
    location.hash = `#/services/${enc(svc.id)}/webhooks`;
  }

  const tbody = h('tbody');
  const summary = h('p', { class: 'table-foot muted', role: 'status', id: 'dl-summary' });
  const more = h('button', { type: 'button', class: 'btn secondary', id: 'dl-more', hidden: true }, 'Load more');
  const refresh = button('Refresh', { id: 'dl-refresh', class: 'small', onclick: (e) => busy(e.currentTarget, () => load(true)) }, 'secondary');
  let cursor = null;
  let shown = 0;
  async function load(fresh) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (!fresh && cursor) q.set('cursor', cursor);
    let page;
    try {
      page = await api('GET', `/api/v1/webhooks/${enc(w.id)}/deliveries?${q}`);
    } catch (err) {
      if (err.status !== 401) toast(err.message, { error: true });
      return;
    }
    if (fresh) { tbody.replaceChildren(); shown = 0; }
    for (const d of page.items) tbody.append(...deliveryRows(w, d, () => load(true)));
    shown += page.items.length;
    if (!shown) tbody.append(h('tr', {}, h('td', { colspan: 5 }, emptyState('No deliveries yet', 'They appear here when a subscribed event happens.'))));
    cursor = page.nextCursor || null;
    more.hidden = !cursor;
    summary.textContent = shown ? `${shown} deliver${shown === 1 ? 'y' : 'ies'} shown${cursor ? ' · more available' : ''}` : '';
  }
  more.addEventListener('click', () => busy(more, () => load(false)));

  body.replaceChildren(back, h('div', { class: 'cand-head' }, title), info,
    h('section', { class: 'card flush', 'aria-labelledby': 'dl-title' },
      h('div', { class: 'chart-head card-title' }, h('h3', { id: 'dl-title', text: 'Deliveries' }), refresh),
      h('div', { class: 'table-wrap' }, h('table', { id: 'deliveries-table', class: 'data' },
        h('caption', { class: 'sr-only', text: `Deliveries to ${w.url}` }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: 'Event' }), h('th', { scope: 'col', text: 'State' }),
          h('th', { scope: 'col', class: 'hide-sm', text: 'Last answer' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Created' }),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only', text: 'Actions' })))),
        tbody)),
      h('div', { class: 'pager' }, summary, more)));
  await load(true);
  title.focus();
}

const answerText = (a) => (a.status ? `HTTP ${a.status}` : a.error || a.lastError || '—');

function deliveryRows(w, d, reload) {
  const detailId = `dl-${d.id}`;
  const log = d.attemptLog || [];
  const toggle = h('button', { type: 'button', class: 'rowlink', 'aria-expanded': 'false', 'aria-controls': detailId },
    h('span', { class: 'chev', 'aria-hidden': 'true', text: '▸' }), h('code', { text: d.eventType }));
  const detail = h('tr', { class: 'dl-detail', id: detailId, hidden: true }, h('td', { colspan: 5 },
    h('p', { class: 'small muted' }, 'Delivery ', h('code', { text: d.id }), ' (the webhook-id header; the same on every attempt)',
      d.nextAttemptAt && d.state !== 'failed' ? ` · next attempt ${fmtRelative(d.nextAttemptAt)}` : ''),
    log.length
      ? h('ol', { class: 'attempts' }, log.map((a) => h('li', { dataset: { attempt: String(a.n) } },
        h('time', { datetime: a.at, text: fmtSeconds(a.at) }), ' · ',
        h('strong', { text: a.status ? `HTTP ${a.status}` : a.error || 'no answer' }),
        a.status && a.error ? ` (${a.error})` : '', ` · ${a.durationMs ?? '—'} ms`)))
      : h('p', { class: 'small muted', text: 'Not attempted yet.' }),
    d.payload ? h('details', { class: 'dl-payload' }, h('summary', { class: 'small', text: 'Payload (the signed body)' }),
      h('pre', { text: JSON.stringify(d.payload, null, 2) })) : null));
  toggle.addEventListener('click', () => {
    const open = detail.hidden;
    detail.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.querySelector('.chev').textContent = open ? '▾' : '▸';
  });
  const last = log[log.length - 1];
  const done = d.state === 'delivered' || d.state === 'succeeded';
  const retry = button(done ? 'Send again' : d.state === 'failed' ? 'Retry' : 'Retry now', {
    class: 'small', dataset: { action: 'retry' }, 'aria-label': `Retry delivery ${d.id}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      try {
        await api('POST', `/api/v1/webhooks/${enc(w.id)}/deliveries/${enc(d.id)}/retry`);
      } catch (err) {
        if (err.status !== 401) toast(err.message, { error: true });
        return;
      }
      toast('Delivery queued: it is sent again now');
      await reload();
    }),
  }, 'secondary');
  const row = h('tr', { dataset: { deliveryId: d.id, state: d.state } },
    h('td', {}, toggle, h('div', { class: 'small muted show-sm', text: `${last ? answerText(last) : 'no attempt yet'} · ${fmtRelative(d.createdAt)}` })),
    h('td', {}, badge(DL_STATE[d.state] || d.state, `dl-${d.state}`),
      h('div', { class: 'small muted', text: `${d.attempts || 0} attempt${d.attempts === 1 ? '' : 's'}` })),
    h('td', { class: 'hide-sm' }, d.lastStatus ? `HTTP ${d.lastStatus}` : d.lastError || (last ? answerText(last) : '—')),
    h('td', { class: 'hide-sm nowrap', title: fmtTime(d.createdAt), text: fmtRelative(d.createdAt) }),
    h('td', { class: 'right' }, retry));
  return [row, detail];
}
