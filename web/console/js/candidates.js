// Candidates tab (seeds 000 and 001): the service's identity records. A list filtered by status and paged
// with "Load more"; a record's page (#/services/<id>/candidates/<refId>) with its dates, the scheduled
// archive, attributes and pictures (operators and admins; viewers see metadata only), the status moves
// the life cycle allows (with an optional comment), Archive with a confirmation, and the history.
import { api, enc, roleOn } from './api.js';
import { fmtRelative, fmtTime, h, field, select } from './dom.js';
import { busy, button, clearErrors, confirmStep, emptyState, showError, toast } from './ui.js';

export const STATUSES = [
  ['incomplete', 'Incomplete', 'Verifications pending'],
  ['waiting', 'Waiting', 'Operator’s review pending'],
  ['inreview', 'In review', 'In review by an operator'],
  ['approved', 'Approved', 'The application has been approved'],
  ['rejected', 'Rejected', 'Rejected; the person can resubmit'],
  ['blocked', 'Blocked', 'Blocked; the person cannot resubmit'],
];
// History entries name archiving as a move to "archived".
const statusText = (s) => STATUSES.find(([v]) => v === s)?.[1] || (s === 'archived' ? 'Archived' : s);
// The life cycle: which moves an operator may make from each status (blocked is final).
const MOVES = {
  incomplete: ['waiting'],
  waiting: ['inreview'],
  inreview: ['approved', 'rejected', 'blocked'],
  approved: ['inreview'],
  rejected: ['waiting'],
  blocked: [],
};
const MOVE_LABEL = { waiting: 'Mark as waiting', inreview: 'Start review', approved: 'Approve', rejected: 'Reject', blocked: 'Block' };
const MOVE_LABEL_FROM = { approved: { inreview: 'Review again' }, rejected: { waiting: 'Resubmit (waiting)' } };
const PICTURES = { selfie: 'Selfie', document_front: 'Document (front)', document_back: 'Document (back)', proof_of_address: 'Proof of address' };
const PAGE = 25;

// Roles that read attributes and pictures and change records; viewers read metadata only.
const canHandle = (svc) => ['sysadmin', 'admin', 'operator'].includes(roleOn(svc.id));
const base = (svc) => `/api/v1/services/${enc(svc.id)}/candidates`;
const statusBadge = (s) => h('span', { class: `badge cand-${s}`, dataset: { status: s }, text: statusText(s) });

// The list's filter per service, so going back from a record returns to the same list.
const lastFilter = new Map();

export async function tabCandidates(svc, body, reload, { sub } = {}) {
  if (sub) return viewCandidate(svc, body, sub);
  return viewList(svc, body);
}

// ---------- the list ----------
async function viewList(svc, body) {
  const status = select('status', [['', 'All statuses'], ...STATUSES.map(([v, label]) => [v, label])], lastFilter.get(svc.id) || '',
    { id: 'cand-status', class: 'compact' });
  const tbody = h('tbody');
  const summary = h('p', { class: 'table-foot muted', role: 'status', id: 'cand-summary' });
  const more = h('button', { type: 'button', class: 'btn secondary', id: 'cand-more', hidden: true }, 'Load more');
  const filters = h('form', { class: 'cand-filters', role: 'search', 'aria-label': 'Filter candidates', novalidate: true },
    field('Status', status));
  let cursor = null;
  let shown = 0;
  let seq = 0;

  async function load(fresh) {
    const mine = ++seq;
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (status.value) q.set('status', status.value);
    if (!fresh && cursor) q.set('cursor', cursor);
    clearErrors(filters);
    let page;
    try {
      page = await api('GET', `${base(svc)}?${q}`);
    } catch (err) {
      if (err.status === 401) return;
      showError(filters, Object.assign(err, { field: 'status' }));
      return;
    }
    if (mine !== seq) return; // a newer filter has been chosen meanwhile
    if (fresh) { tbody.replaceChildren(); shown = 0; }
    for (const r of page.items) tbody.append(candidateRow(svc, r));
    shown += page.items.length;
    if (!shown) {
      tbody.append(h('tr', {}, h('td', { colspan: 5 }, emptyState(status.value ? `No ${statusText(status.value).toLowerCase()} candidates` : 'No candidates yet',
        status.value ? 'Choose another status, or All statuses.' : 'Candidates appear here when your onboarding creates them.'))));
    }
    cursor = page.nextCursor || null;
    more.hidden = !cursor;
    summary.textContent = shown ? `${shown} candidate${shown === 1 ? '' : 's'} shown${cursor ? ' · more available' : ''}` : '';
  }

  status.addEventListener('change', () => {
    lastFilter.set(svc.id, status.value);
    busy(more, () => load(true));
  });
  filters.addEventListener('submit', (e) => e.preventDefault());
  more.addEventListener('click', () => busy(more, () => load(false)));

  body.replaceChildren(
    h('div', { class: 'toolbar' },
      h('div', {}, h('h2', { text: 'Candidates' }),
        h('p', { class: 'muted', text: canHandle(svc)
          ? 'Identity records of this service. Open one to review its attributes, move its status or archive it.'
          : 'Identity records of this service. Your role shows their status and history; attributes and pictures are for operators and admins.' })),
      h('div', { class: 'toolbar-controls' }, filters)),
    h('div', { class: 'card flush' },
      h('div', { class: 'table-wrap' }, h('table', { id: 'candidates-table', class: 'data' },
        h('caption', { class: 'sr-only', text: `Candidates of ${svc.name}` }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: 'Ref ID' }), h('th', { scope: 'col', text: 'Status' }),
          h('th', { scope: 'col', class: 'hide-md', text: 'Identity' }),
          h('th', { scope: 'col', class: 'hide-sm', text: 'Updated' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Scheduled archive' }))),
        tbody)),
      h('div', { class: 'pager' }, summary, more)));
  await load(true);
}

function archiveText(r) {
  if (r.isArchived) return 'Archived';
  if (r.willArchiveAtDate) return fmtTime(r.willArchiveAtDate);
  return '—';
}

function candidateRow(svc, r) {
  const href = `#/services/${enc(svc.id)}/candidates/${enc(r.refId)}`;
  return h('tr', { dataset: { refId: r.refId }, class: r.isArchived ? 'archived' : null },
    h('td', {},
      h('a', { class: 'rowlink', href, dataset: { focusKey: `cand-${r.refId}` }, text: r.refId }),
      h('div', { class: 'small muted show-sm' }, `Updated ${fmtRelative(r.updatedAt)}`,
        r.isArchived ? ' · archived' : r.willArchiveAtDate ? ` · archives ${fmtRelative(r.willArchiveAtDate)}` : '')),
    h('td', {}, statusBadge(r.status), r.isArchived ? h('span', { class: 'badge archived-badge hide-sm', text: 'Archived' }) : null),
    h('td', { class: 'hide-md mono small wrap', text: r.identityId || '—' }),
    h('td', { class: 'hide-sm nowrap', title: fmtTime(r.updatedAt), text: fmtRelative(r.updatedAt) }),
    h('td', { class: 'hide-sm nowrap c-archive', text: archiveText(r) }));
}

// ---------- one record ----------
async function viewCandidate(svc, body, refId) {
  const url = `${base(svc)}/${enc(refId)}`;
  document.title = `${refId} · Candidates · ${svc.name} · keyward`;
  const back = h('a', { class: 'back', href: `#/services/${enc(svc.id)}/candidates`, id: 'cand-back' }, '← All candidates');
  let r;
  try {
    r = await api('GET', url);
  } catch (err) {
    if (err.status !== 404) throw err;
    body.replaceChildren(back, h('div', { class: 'card' }, emptyState('No such candidate', `This service has no candidate with the ref ID “${refId}”.`)));
    return;
  }
  // Reads the record again after a change; a failure leaves the page as it was, with a toast.
  const rerender = async ({ focusHead = false, quiet = false } = {}) => {
    let fresh;
    try {
      fresh = await api('GET', url);
    } catch (err) {
      if (err.status !== 401 && !quiet) toast(err.message, { error: true });
      else if (quiet) arm(body.querySelector('#cand-title'));
      return;
    }
    const same = JSON.stringify(fresh) === JSON.stringify(r);
    r = fresh;
    if (quiet && same) arm(body.querySelector('#cand-title'));
    else render(focusHead);
  };
  let timer = null;
  let polls = 0;
  function render(focusHead) {
    const comment = body.querySelector('#cand-comment')?.value; // a comment being typed survives a refresh
    const head = h('h2', { tabindex: -1, id: 'cand-title' }, h('span', { class: 'sr-only', text: 'Candidate ' }), r.refId);
    body.replaceChildren(back,
      h('div', { class: 'cand-head' }, head,
        h('div', { class: 'cand-badges' }, statusBadge(r.status), r.isArchived ? h('span', { class: 'badge archived-badge', text: 'Archived' }) : null),
        h('p', { class: 'muted cand-status-text', text: STATUSES.find(([v]) => v === r.status)?.[2] || '' })),
      h('div', { class: canHandle(svc) ? 'cand-grid' : 'cand-grid solo' },
        h('div', { class: 'cand-main' },
          summaryCard(r),
          dataCard(svc, r, url),
          historyCard(r)),
        canHandle(svc) ? actionsCard(svc, r, url, rerender) : null));
    if (focusHead) head.focus();
    if (comment) body.querySelector('#cand-comment')?.setRangeText(comment, 0, 0, 'end');
    arm(head);
  }
  // When the scheduled archive passes, show it: the record is read again shortly after that time, and
  // every 2 s after it for a while if the scheduler has not got to it yet.
  function arm(head) {
    clearTimeout(timer);
    if (!head || !r.willArchiveAtDate || r.isArchived || polls >= 15) return;
    const wait = Math.max(0, new Date(r.willArchiveAtDate).getTime() - Date.now()) + (polls ? 2000 : 1000);
    if (wait >= 2 ** 31 - 1) return;
    timer = setTimeout(() => {
      if (!head.isConnected) return;
      polls += 1;
      rerender({ quiet: true });
    }, wait);
  }
  render(true);
}

const dateRow = (label, t, id) => h('div', {}, h('dt', { text: label }),
  h('dd', { id, title: t ? fmtTime(t) : null, text: t ? fmtTime(t) : '—' }));

function summaryCard(r) {
  let archive;
  if (r.isArchived) archive = h('dd', { id: 'cand-archive' }, 'Archived');
  else if (r.willArchiveAtDate) {
    archive = h('dd', { id: 'cand-archive' }, fmtTime(r.willArchiveAtDate),
      h('span', { class: 'muted', text: ` (${fmtRelative(r.willArchiveAtDate)})` }));
  } else archive = h('dd', { id: 'cand-archive', class: 'muted', text: 'Not scheduled' });
  return h('section', { class: 'card', 'aria-labelledby': 'cand-summary-title' },
    h('h3', { id: 'cand-summary-title', text: 'Record' }),
    h('dl', { class: 'summary cand-summary' },
      h('div', {}, h('dt', { text: 'Record ID' }), h('dd', { class: 'mono wrap', text: r.recordId || '—' })),
      h('div', {}, h('dt', { text: 'Identity (blockPassID)' }), h('dd', { class: 'mono wrap', text: r.identityId || r.blockPassID || '—' })),
      dateRow('Waiting since', r.waitingDate, 'cand-waiting'),
      dateRow('In review since', r.inreviewDate, 'cand-inreview'),
      dateRow('Approved', r.approvedDate, 'cand-approved'),
      h('div', { class: 'cand-archive-row' }, h('dt', { text: r.isArchived ? 'Archive' : 'Scheduled archive' }), archive),
      dateRow('Created', r.createdAt),
      dateRow('Updated', r.updatedAt)));
}

function dataCard(svc, r, url) {
  const title = h('h3', { id: 'cand-data-title', text: 'Identity attributes' });
  const card = (...children) => h('section', { class: 'card', id: 'cand-data', 'aria-labelledby': 'cand-data-title' }, title, children);
  if (r.isArchived) {
    return card(h('p', { class: 'notice', id: 'cand-archived-note', text:
      'This candidate is archived: its identity attributes and pictures were deleted. Metadata, history and certificates remain.' }),
    certificates(r));
  }
  if (!canHandle(svc) || !r.attributes) {
    return card(h('p', { class: 'muted', id: 'cand-metadata-only', text: canHandle(svc)
      ? 'No attributes were given for this candidate.'
      : 'Your role shows metadata only. Operators and admins see identity attributes and pictures.' }), certificates(r));
  }
  const entries = Object.entries(r.attributes);
  return card(
    entries.length
      ? h('dl', { class: 'attrs', id: 'cand-attributes' }, entries.map(([k, v]) => h('div', { dataset: { attr: k } },
        h('dt', { text: k }), h('dd', { text: typeof v === 'string' ? v : JSON.stringify(v) }))))
      : h('p', { class: 'muted', text: 'No attributes.' }),
    pictures(r, url),
    certificates(r));
}

function pictures(r, url) {
  const list = r.pictures || [];
  return [h('h4', { text: 'Pictures' }),
    list.length
      ? h('ul', { class: 'thumbs', id: 'cand-pictures' }, list.map((p) => {
        const src = `${url}/pictures/${enc(p.name)}`;
        const label = PICTURES[p.name] || p.name;
        const media = p.mediaType === 'application/pdf'
          ? h('span', { class: 'thumb-doc', 'aria-hidden': 'true', text: 'PDF' })
          : h('img', { src, alt: label, loading: 'lazy',
            onerror: (e) => e.target.replaceWith(h('span', { class: 'thumb-doc small', text: 'No preview' })) });
        return h('li', { dataset: { picture: p.name } },
          h('a', { href: src, target: '_blank', rel: 'noopener', class: 'thumb', 'aria-label': `${label} (${p.mediaType}), opens in a new tab` }, media),
          h('div', { class: 'small' }, label), h('div', { class: 'small muted', text: `${p.mediaType} · ${fmtSize(p.size)}` }));
      }))
      : h('p', { class: 'muted', text: 'No pictures.' })];
}

function certificates(r) {
  const certs = r.certificates || [];
  if (!certs.length) return null;
  return [h('h4', { text: 'Certificates' }),
    h('ul', { class: 'certs', id: 'cand-certificates' }, certs.map((c) => h('li', {}, certText(c))))];
}

// {type: 'email', verified: true} -> "type: email · verified: true"
function certText(c) {
  if (!c || typeof c !== 'object') return String(c);
  return Object.entries(c).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ');
}

const fmtSize = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${Math.round(n / 1024)} KiB` : `${n || 0} bytes`);

const actorName = (a) => {
  if (!a) return 'unknown';
  if (a.type === 'user') return a.id;
  if (a.type === 'root') return 'root token';
  if (a.type === 'system') return a.id === 'auto-archive' ? 'auto-archive' : `system ${a.id || ''}`.trim();
  return `${a.type.replace('_', ' ')} ${a.id || ''}`.trim();
};

function historyCard(r) {
  const items = [...(r.history || [])].reverse(); // newest first
  return h('section', { class: 'card', 'aria-labelledby': 'cand-history-title' },
    h('h3', { id: 'cand-history-title', text: 'History' }),
    items.length
      ? h('ol', { class: 'history', id: 'cand-history' }, items.map((e) => h('li', { dataset: { to: e.to || '' } },
        h('div', { class: 'history-move' },
          e.from ? statusBadge(e.from) : h('span', { class: 'muted small', text: 'Created as ' }),
          e.from ? h('span', { class: 'muted', 'aria-label': 'to', text: ' → ' }) : null,
          e.to ? statusBadge(e.to) : null),
        h('div', { class: 'small muted' }, h('time', { datetime: e.at, text: fmtTime(e.at) }), ' · by ', h('span', { class: 'history-actor', text: actorName(e.actor) })),
        e.comment ? h('p', { class: 'history-comment', text: e.comment }) : null)))
      : h('p', { class: 'muted', text: 'No status changes yet.' }));
}

function actionsCard(svc, r, url, rerender) {
  const moves = r.isArchived && r.status === 'blocked' ? [] : (MOVES[r.status] || []);
  const comment = h('textarea', { name: 'comment', id: 'cand-comment', rows: 3, maxlength: 1000,
    placeholder: 'Why? (optional; kept in the history)' });
  const form = h('form', { class: 'cand-actions', id: 'cand-move', novalidate: true, 'aria-label': 'Change status' },
    moves.length ? [
      field('Comment', comment, { hint: 'Shown in the history with the status change.' }),
      h('div', { class: 'move-buttons' }, moves.map((to) => h('button', {
        type: 'submit', class: `btn ${to === 'blocked' || to === 'rejected' ? 'danger secondary' : to === 'approved' ? 'primary' : 'secondary'}`,
        dataset: { move: to }, value: to,
      }, MOVE_LABEL_FROM[r.status]?.[to] || MOVE_LABEL[to]))),
      h('div', { class: 'error-slot' }),
    ] : h('p', { class: 'muted', text: r.status === 'blocked' ? 'Blocked is final: the status cannot change any more.' : 'No status change is possible.' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const to = e.submitter?.value;
    if (!to) return;
    clearErrors(form);
    if (to === 'blocked' && !(await confirmStep('Block this candidate?',
      `${r.refId} will be blocked. Blocked is final: the person cannot resubmit and the status cannot change again.`, 'Block'))) return;
    await busy(e.submitter, async () => {
      try {
        const body = { status: to };
        if (comment.value.trim()) body.comment = comment.value.trim();
        await api('POST', `${url}/status`, body);
      } catch (err) {
        if (err.status === 401) return;
        showError(form, err);
        return;
      }
      comment.value = ''; // it is in the history now
      toast(`${r.refId} is now ${statusText(to).toLowerCase()}`);
      await rerender({ focusHead: true });
    });
  });

  const archive = r.isArchived ? null : h('div', { class: 'archive-zone' },
    h('h4', { text: 'Archive' }),
    h('p', { class: 'small muted', text: 'Deletes the identity attributes and pictures for good. Status, history and certificates remain.' }),
    button('Archive candidate', { id: 'cand-archive-btn', dataset: { focusKey: 'cand-archive' }, onclick: async (e) => {
      if (!(await confirmStep(`Archive ${r.refId}?`,
        'Its identity attributes and pictures are deleted and cannot be recovered. Status, dates, history and certificates remain.',
        'Archive candidate'))) return;
      await busy(e.target.closest('button'), async () => {
        try {
          await api('POST', `${url}/archive`);
        } catch (err) {
          if (err.status === 401) return;
          toast(err.message, { error: true });
          return;
        }
        toast(`${r.refId} archived`);
        await rerender({ focusHead: true });
      });
    } }, 'danger secondary'));
  return h('aside', { class: 'card cand-side', 'aria-labelledby': 'cand-actions-title' },
    h('h3', { id: 'cand-actions-title', text: 'Status' }),
    form, archive);
}

