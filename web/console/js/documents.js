// Documents tab (seed 002, issue 10): the documents this service's source systems ingested. Search by the
// metadata filters (source_tag, external_id, document_category, department), the service user and a period,
// paged with "Load more"; a document's details; Download (operators, admins, System Administrators: the
// content is the document itself; viewers see metadata only) and Delete with a confirmation (crypto-shred).
import { api, enc, roleOn } from './api.js';
import { fmtRelative, fmtTime, h, field, input, select } from './dom.js';
import { busy, button, clearErrors, confirmStep, emptyState, modal, restoreFocus, showError, toast } from './ui.js';
import { listServiceUsers } from './serviceusers.js';

const PAGE = 25;
const META = [
  ['source_tag', 'Source tag', 'e.g. vkyc'],
  ['external_id', 'External ID', 'e.g. session-123'],
  ['document_category', 'Category', 'e.g. kyc_vkyc'],
  ['department', 'Department', 'e.g. retail'],
];
const TYPES = { 'application/pdf': 'PDF', 'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/tiff': 'TIFF', 'image/heic': 'HEIC',
  'image/heif': 'HEIF', 'image/webp': 'WebP', 'image/gif': 'GIF' };

// Operators and admins (and System Administrators) read the bytes and delete; viewers list and read metadata.
export const canHandleDocs = (svc) => ['sysadmin', 'admin', 'operator'].includes(roleOn(svc.id));
export const contentUrl = (d) => `/api/v1/documents/${enc(d.id)}/content`;
export const fmtSize = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n || 0} bytes`);
const typeText = (t) => TYPES[t] || t || '—';
const metaOf = (d) => (d.metadata && typeof d.metadata === 'object' ? d.metadata : {});

// The filter per service, so coming back to the tab shows the same search.
const lastFilter = new Map();

export async function tabDocuments(svc, body, reload) {
  const users = await listServiceUsers(svc).catch(() => []);
  const names = new Map(users.map((u) => [u.id, u.name]));
  const saved = lastFilter.get(svc.id) || {};
  const controls = Object.fromEntries(META.map(([k, , ph]) => [k, input(k, { id: `doc-${k.replace(/_/g, '-')}`, placeholder: ph,
    value: saved[k] || '', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' })]));
  controls.serviceUserId = select('serviceUserId', [['', 'Any service user'], ...users.map((u) => [u.id, `${u.name} (${u.sourceSystem})`])],
    saved.serviceUserId || '', { id: 'doc-su' });
  controls.since = input('since', { type: 'datetime-local', id: 'doc-since', value: saved.since || '' });
  controls.until = input('until', { type: 'datetime-local', id: 'doc-until', value: saved.until || '' });
  const apply = h('button', { type: 'submit', class: 'btn primary', id: 'doc-search' }, 'Search');
  const reset = h('button', { type: 'button', class: 'btn secondary', id: 'doc-reset' }, 'Reset');
  const form = h('form', { class: 'filters doc-filters', id: 'doc-filters', novalidate: true, role: 'search', 'aria-label': 'Search documents' },
    META.map(([k, label]) => field(label, controls[k], { name: k })),
    field('Service user', controls.serviceUserId, { name: 'serviceUserId' }),
    field('Uploaded from', controls.since, { name: 'since' }), field('Uploaded until', controls.until, { name: 'until' }),
    h('div', { class: 'filters-go' }, reset, apply));
  const tbody = h('tbody');
  const summary = h('p', { class: 'table-foot muted', role: 'status', id: 'doc-summary' });
  const more = h('button', { type: 'button', class: 'btn secondary', id: 'doc-more', hidden: true }, 'Load more');
  let cursor = null;
  let shown = 0;
  let seq = 0;
  let filtered = false;

  function query() {
    const q = new URLSearchParams({ serviceId: svc.id, limit: String(PAGE) });
    const keep = {};
    for (const k of [...META.map(([x]) => x), 'serviceUserId']) {
      const v = controls[k].value.trim();
      keep[k] = v;
      if (v) q.set(k, v);
    }
    for (const k of ['since', 'until']) {
      keep[k] = controls[k].value;
      if (!controls[k].value) continue;
      const at = new Date(controls[k].value);
      if (Number.isNaN(at.getTime())) throw Object.assign(new Error('Enter a valid date and time.'), { field: k });
      q.set(k, at.toISOString());
    }
    if (keep.since && keep.until && new Date(keep.since) > new Date(keep.until)) {
      throw Object.assign(new Error('“Uploaded from” is after “Uploaded until”.'), { field: 'until' });
    }
    lastFilter.set(svc.id, keep);
    filtered = Object.values(keep).some(Boolean);
    return q;
  }

  async function load(fresh) {
    const mine = ++seq;
    clearErrors(form);
    let q;
    try { q = query(); } catch (err) { showError(form, err); return; }
    if (!fresh && cursor) q.set('cursor', cursor);
    let page;
    try {
      page = await api('GET', `/api/v1/documents?${q}`);
    } catch (err) {
      if (err.status === 401) return;
      const f = { since: 'since', until: 'until', serviceUserId: 'serviceUserId' }[err.field] || (META.some(([k]) => k === err.field) ? err.field : null);
      showError(form, Object.assign(err, { field: f }));
      return;
    }
    if (mine !== seq) return; // a newer search has started meanwhile
    if (fresh) { tbody.replaceChildren(); shown = 0; }
    for (const d of page.items) tbody.append(docRow(svc, d, names, reload));
    shown += page.items.length;
    if (!shown) {
      tbody.append(h('tr', {}, h('td', { colspan: 6 }, filtered
        ? emptyState('No documents match', 'Clear a filter or widen the period.')
        : emptyState('No documents yet', 'Source systems upload them with POST /api/v1/ingest.',
          h('a', { class: 'btn secondary', href: `#/services/${enc(svc.id)}/upload`, text: 'Show the upload command' })))));
    }
    cursor = page.nextCursor || null;
    more.hidden = !cursor;
    summary.textContent = shown ? `${shown} document${shown === 1 ? '' : 's'} shown${cursor ? ' · more available' : ''}` : '';
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); busy(apply, () => load(true)); });
  reset.addEventListener('click', () => {
    for (const c of Object.values(controls)) c.value = '';
    busy(apply, () => load(true));
  });
  more.addEventListener('click', () => busy(more, () => load(false)));

  body.replaceChildren(
    h('div', { class: 'toolbar' }, h('div', {}, h('h2', { text: 'Documents' }),
      h('p', { class: 'muted', text: canHandleDocs(svc)
        ? 'Documents the source systems of this service uploaded, oldest first. They are encrypted at rest; open one to download or delete it.'
        : 'Documents the source systems of this service uploaded, oldest first. Your role shows their metadata; operators and admins download them.' }))),
    h('div', { class: 'card flush' }, form,
      h('div', { class: 'table-wrap' }, h('table', { id: 'documents-table', class: 'data' },
        h('caption', { class: 'sr-only', text: `Documents of ${svc.name}` }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: 'File' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Category' }),
          h('th', { scope: 'col', class: 'hide-md', text: 'Source' }), h('th', { scope: 'col', class: 'hide-md', text: 'Service user' }),
          h('th', { scope: 'col', class: 'hide-sm num', text: 'Size' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Uploaded' }))),
        tbody)),
      h('div', { class: 'pager' }, summary, more)));
  await load(true);
  restoreFocus(body);
}

function docRow(svc, d, names, reload) {
  const m = metaOf(d);
  const open = () => docDialog(svc, d, names, reload);
  const name = d.filename || d.id;
  return h('tr', { class: 'clickable', dataset: { docId: d.id }, onclick: (e) => { if (!e.target.closest('button, a')) open(); } },
    h('td', {},
      h('button', { type: 'button', class: 'rowlink', dataset: { focusKey: `doc-${d.id}` }, onclick: open, 'aria-label': `Details of ${name}` }, name),
      h('div', { class: 'small muted', text: `${typeText(d.mediaType)} · ${m.external_id || d.id}` }),
      h('div', { class: 'small muted show-sm', text: `${m.document_category || '—'} · ${fmtRelative(d.createdAt)}` })),
    h('td', { class: 'hide-sm' }, m.document_category ? h('code', { text: m.document_category }) : '—'),
    h('td', { class: 'hide-md' }, m.source_tag ? h('code', { text: m.source_tag }) : '—', m.department ? h('div', { class: 'small muted', text: m.department }) : null),
    h('td', { class: 'hide-md', text: names.get(d.serviceUserId) || d.serviceUserId || '—' }),
    h('td', { class: 'hide-sm num nowrap', text: fmtSize(d.size) }),
    h('td', { class: 'hide-sm nowrap', title: fmtTime(d.createdAt), text: fmtRelative(d.createdAt) }));
}

function docDialog(svc, d, names, reload) {
  const handle = canHandleDocs(svc);
  const m = metaOf(d);
  const rows = [
    ['Document ID', h('code', { class: 'wrap', text: d.id })],
    ['Type', `${typeText(d.mediaType)} (${d.mediaType || 'unknown'})`],
    ['Size', `${fmtSize(d.size)}${d.size >= 1024 ? ` (${Number(d.size).toLocaleString()} bytes)` : ''}`],
    ['Uploaded', fmtTime(d.createdAt)],
    ['Service user', names.get(d.serviceUserId) || d.serviceUserId || '—'],
    ['Credential', h('code', { class: 'wrap', text: d.credentialId || '—' })],
    ['Approver department', d.approverDepartment || '—'],
  ];
  const summary = h('dl', { class: 'summary' }, rows.map(([dt, dd]) => h('div', {}, h('dt', { text: dt }), h('dd', {}, dd))));
  const entries = Object.entries(m);
  const meta = [h('h3', { text: 'Metadata' }), entries.length
    ? h('dl', { class: 'doc-meta', id: 'doc-metadata' }, entries.map(([k, v]) => h('div', { dataset: { meta: k } },
      h('dt', { text: k }), h('dd', { text: typeof v === 'string' ? v : JSON.stringify(v) }))))
    : h('p', { class: 'muted', text: 'No metadata.' })];
  const sha = [h('h3', { text: 'SHA-256' }), h('p', { class: 'mono small wrap', id: 'doc-sha256', text: d.sha256 || '—' })];
  const zone = handle ? h('div', { class: 'error-slot' }) : null;
  const note = handle ? null : h('p', { class: 'muted small', id: 'doc-viewer-note', text: 'Your role shows metadata only. Operators and admins download documents.' });
  const download = handle ? h('a', { class: 'btn primary', id: 'doc-download', href: contentUrl(d), download: d.filename || d.id }, 'Download') : null;
  const del = handle ? button('Delete', { id: 'doc-delete', onclick: () => remove() }, 'danger secondary') : null;
  async function remove() {
    if (!(await confirmStep(`Delete ${d.filename || d.id}?`,
      'Its content is destroyed for good (the data key is erased, so no copy can be decrypted). Its metadata stays in the audit trail.',
      'Delete document'))) return;
    try {
      await api('DELETE', `/api/v1/documents/${enc(d.id)}`);
    } catch (err) {
      if (err.status === 401) return;
      if (dlg.dialog.open) showError(zone, err);
      else toast(err.message, { error: true });
      return;
    }
    dlg.close();
    toast(`${d.filename || d.id} deleted`);
    reload();
  }
  const dlg = modal(d.filename || d.id, {
    id: 'doc-dialog',
    size: 'lg',
    body: [summary, meta, sha, note, zone],
    actions: [del, h('span', { class: 'spacer' }), button('Close', { id: 'doc-close', onclick: () => dlg.close() }, 'secondary'), download],
  });
  if (download) download.addEventListener('click', () => toast(`Downloading ${d.filename || d.id}`));
  return dlg;
}

