// Upload tab (seed 002's Upload panel): pick a service user, mint a token for it here (shown once, with Copy
// and the warning), and the POST /api/v1/ingest cURL example fills itself with that token, this server's
// base URL (location.origin), seed 002's headers (Authorization, X-Approver-Department) and fields (file,
// metadata with source_tag, external_id, document_category, department), with Copy. Minting is for a
// System Administrator (as on the Tokens tab); everyone else sees the example with a placeholder.
import { api, canWriteKeys, enc } from './api.js';
import { h, field, input, select } from './dom.js';
import { busy, button, clearErrors, emptyState, showError } from './ui.js';
import { secretField } from './once.js';
import { listServiceUsers } from './serviceusers.js';

const PLACEHOLDER = '<access_token>';
// Seed 002's example values; each is editable and the command follows.
const DEFAULTS = {
  file: './document.pdf', approver: 'retail',
  source_tag: 'vkyc', external_id: 'session-123', document_category: 'kyc_vkyc', department: 'retail',
};
const META_KEYS = ['source_tag', 'external_id', 'document_category', 'department'];

// One shell word in single quotes: ' becomes '\'' so any text stays one literal argument.
export const shq = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

// The command, one option per line. -F reads ";type=", ";filename=" ... inside a value; when the metadata
// holds a ';' it is sent with --form-string, which takes the value literally.
export function curlCommand({ origin, token, approver, file, meta }) {
  const json = JSON.stringify(Object.fromEntries(META_KEYS.map((k) => [k, meta[k] ?? ''])));
  const metaOpt = json.includes(';') ? '--form-string' : '-F';
  return [
    `curl -X POST ${shq(`${origin}/api/v1/ingest`)}`,
    `-H ${shq(`Authorization: Bearer ${token || PLACEHOLDER}`)}`,
    `-H ${shq(`X-Approver-Department: ${approver}`)}`,
    `-F ${shq(`file=@${file}`)}`,
    `${metaOpt} ${shq(`metadata=${json}`)}`,
  ].join(' \\\n  ');
}

// Kept while the tab is shown again after a re-render (not across reloads: the token is shown once).
let picked = null;
let minted = null; // { serviceUserId, token, label }

export async function tabUpload(svc, body) {
  minted = null; // a token appears only on the page where it was minted
  const all = (await listServiceUsers(svc)).sort((a, b) => a.name.localeCompare(b.name));
  const users = all.filter((u) => u.enabled);
  const write = canWriteKeys();
  const head = h('div', { class: 'toolbar' }, h('div', {},
    h('h2', { text: 'Upload' }),
    h('p', { class: 'muted', text: 'Source systems push documents to keyward with POST /api/v1/ingest, authenticated as one of this service’s service users. '
      + 'Copy the command below and run it, or build it into the system.' })));
  if (!users.length) {
    body.replaceChildren(head, h('div', { class: 'card' }, emptyState(all.length ? 'Every service user is disabled' : 'No service users yet',
      'Uploads are made as a service user with the documents:write permission. Create or enable one on the Service users tab first.',
      h('a', { class: 'btn secondary', href: `#/services/${enc(svc.id)}/service-users`, text: 'Go to Service users' }))));
    return;
  }
  const canIngest = (u) => (u.permissions || []).includes('documents:write');
  if (!picked || !users.some((u) => u.id === picked)) picked = (users.find(canIngest) || users[0]).id;

  // ---------- step 1: who uploads, and its token ----------
  const who = select('serviceUserId', users.map((u) => [u.id, `${u.name} (${u.sourceSystem})${canIngest(u) ? '' : ' — no documents:write'}`]), picked,
    { id: 'up-user' });
  const permNote = h('p', { class: 'field-error', id: 'up-perm-note', role: 'status' });
  const label = input('label', { id: 'up-label', maxlength: 100, autocomplete: 'off', value: `upload ${new Date().toISOString().slice(0, 10)}` });
  const mintBtn = h('button', { type: 'submit', class: 'btn primary', id: 'up-mint' }, 'Mint token');
  const tokenSlot = h('div', { id: 'up-token-slot' });
  const mintForm = write ? h('form', { class: 'mint-form up-mint', id: 'up-mint-form', novalidate: true, 'aria-label': 'Mint a token for the upload' },
    field('Service user', who, { hint: 'The source system that uploads.' }),
    field('Token label', label, { hint: 'Shown on the Tokens tab.' }),
    h('div', { class: 'mint-go' }, mintBtn),
    h('div', { class: 'mint-note' }, permNote))
    : h('div', { class: 'mint-form up-mint', id: 'up-pick' },
      field('Service user', who),
      h('p', { class: 'muted small mint-note', text: 'Only a System Administrator mints tokens. Put the service user’s token in place of <access_token>.' }),
      h('div', { class: 'mint-note' }, permNote));

  // ---------- step 2: the example's values ----------
  const vals = {};
  const mk = (key, lbl, hint) => {
    const c = input(key, { id: `up-${key.replace(/_/g, '-')}`, value: DEFAULTS[key], autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
    vals[key] = c;
    c.addEventListener('input', render);
    return field(lbl, c, { hint });
  };
  const fieldsCard = h('details', { class: 'card up-fields', id: 'up-fields' },
    h('summary', { text: 'Change the example’s values' }),
    h('div', { class: 'up-grid' },
      mk('file', 'File', 'Path of the file to upload (PDF, PNG, JPEG, TIFF or HEIC).'),
      mk('approver', 'X-Approver-Department', 'Header: the approving department.'),
      mk('source_tag', 'source_tag', 'metadata: the source of the document.'),
      mk('external_id', 'external_id', 'metadata: its id in the source system.'),
      mk('document_category', 'document_category', 'metadata: what kind of document.'),
      mk('department', 'department', 'metadata: the owning department.')));

  // ---------- step 3: the command ----------
  const pre = h('pre', { class: 'curl', id: 'up-curl', tabindex: 0, 'aria-label': 'Ingest cURL command' });
  const copyStatus = h('p', { class: 'copy-status', id: 'up-curl-status', role: 'status', 'aria-live': 'polite' });
  const copyBtn = button('Copy command', { id: 'up-copy-curl', onclick: () => copy() }, 'secondary');
  const tokenHint = h('p', { class: 'small muted', id: 'up-curl-hint' });
  const example = h('section', { class: 'card', 'aria-labelledby': 'up-curl-title' },
    h('div', { class: 'chart-head' }, h('h3', { id: 'up-curl-title', text: 'Ingest with cURL' }), copyBtn),
    tokenHint, pre, copyStatus,
    h('p', { class: 'small muted' }, 'The answer is 201 with the document’s id; it then appears on the ',
      h('a', { href: `#/services/${enc(svc.id)}/documents`, text: 'Documents' }), ' tab. Add an ',
      h('code', { text: 'Idempotency-Key' }), ' header to make a retried upload return the first answer.'));

  function command() {
    const meta = Object.fromEntries(META_KEYS.map((k) => [k, vals[k].value]));
    const token = minted && minted.serviceUserId === who.value ? minted.token : null;
    return curlCommand({ origin: location.origin, token, approver: vals.approver.value, file: vals.file.value, meta });
  }
  function render() {
    const u = users.find((x) => x.id === who.value);
    permNote.textContent = u && !canIngest(u)
      ? `${u.name} lacks the documents:write permission: its uploads are refused (403). A System Administrator grants it on the Service users tab.` : '';
    permNote.hidden = !permNote.textContent;
    const has = minted && minted.serviceUserId === who.value;
    tokenHint.textContent = has ? `Filled with the token “${minted.label}” of ${u?.name}.`
      : write ? `Mint a token above and it is filled in here in place of ${PLACEHOLDER}.` : `Replace ${PLACEHOLDER} with a token of ${u?.name}.`;
    pre.textContent = command();
    copyStatus.textContent = '';
    copyBtn.textContent = 'Copy command';
    if (!has) tokenSlot.replaceChildren();
  }
  async function copy() {
    const text = command();
    let ok = false;
    try { await navigator.clipboard.writeText(text); ok = true; } catch { /* blocked: select instead */ }
    if (!ok) {
      const r = document.createRange();
      r.selectNodeContents(pre);
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      try { ok = document.execCommand('copy'); } catch { ok = false; }
    }
    copyStatus.textContent = ok ? 'Copied to the clipboard.' : 'This browser did not allow copying. The command is selected: press Ctrl+C (⌘C on a Mac).';
    copyBtn.textContent = ok ? 'Copied ✓' : 'Copy command';
  }

  who.addEventListener('change', () => {
    picked = who.value;
    minted = null; // a token belongs to the service user it was minted for
    render();
  });
  if (write) {
    mintForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(mintForm);
      const lbl = label.value.trim();
      if (!lbl) return showError(mintForm, { message: 'Give the token a label, so you can tell it apart when you rotate it.', field: 'label' });
      await busy(mintBtn, async () => {
        let t;
        try {
          t = await api('POST', `/api/v1/service-users/${enc(who.value)}/tokens`, { label: lbl });
        } catch (err) {
          if (err.status === 401) return;
          return showError(mintForm, err);
        }
        minted = { serviceUserId: who.value, token: t.token, label: t.label || lbl };
        const f = secretField('Your new token', t.token, { id: 'up-token', copyLabel: 'Copy token', copyId: 'up-copy-token', what: 'token', kind: 'secondary' });
        tokenSlot.replaceChildren(h('div', { class: 'up-token' }, f.el,
          h('div', { class: 'warning', id: 'up-token-warning' }, h('strong', { text: '⚠️ The token is displayed only now. ' }),
            'It is also in the command below. Copy it and store it somewhere safe: when you leave this page it will not be shown again.')));
        render();
        pre.focus();
      });
    });
  }

  body.replaceChildren(head,
    h('div', { class: 'card flush up-who' }, mintForm, tokenSlot),
    fieldsCard, example);
  render();
}
