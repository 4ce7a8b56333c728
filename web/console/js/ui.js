// Dialogs, confirmation steps, errors in words next to what caused them, toasts.
import { h, nextId } from './dom.js';

// ---------- focus memory ----------
// A dialog usually ends by re-rendering the page behind it, which replaces the element that opened it.
// Elements carry data-focus-key; after a re-render the view calls restoreFocus() to land on the same one.
// Only when focus was actually lost (it fell back to <body>), and only shortly after the dialog closed.
let pendingFocus = null;
export function restoreFocus(root = document) {
  if (!pendingFocus || Date.now() > pendingFocus.until) return;
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return;
  const el = root.querySelector(`[data-focus-key="${CSS.escape(pendingFocus.key)}"]`);
  if (el) {
    el.focus();
    pendingFocus = null;
  }
}

// ---------- dialogs ----------
// modal(title, {body, actions, onSubmit, id, size}) → {dialog, form, close, closed}
// onSubmit(form, submitter) may throw an ApiError: it is shown in words under the field it names.
export function modal(title, { body = [], actions = [], onSubmit, id, size, describedBy, onCancel } = {}) {
  const opener = document.activeElement;
  const focusKey = opener?.closest?.('[data-focus-key]')?.dataset.focusKey || null;
  const headId = nextId('dlg-title');
  const form = h('form', { class: 'dlg', novalidate: true },
    h('div', { class: 'dlg-head' },
      h('h2', { id: headId, text: title }),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onclick: () => close() }, '×')),
    h('div', { class: 'dlg-body' }, body),
    actions.length ? h('div', { class: 'dlg-foot' }, actions) : null);
  const dialog = h('dialog', { id, class: size ? `dlg-${size}` : null, 'aria-labelledby': headId, 'aria-describedby': describedBy }, form);
  let resolveClosed;
  const closed = new Promise((r) => (resolveClosed = r));
  const rememberFocus = () => { if (focusKey) pendingFocus = { key: focusKey, until: Date.now() + 5000 }; };
  function close(value) {
    rememberFocus(); // before the page behind re-renders; the close event comes later
    if (dialog.open) dialog.close();
    resolveClosed(value);
  }
  dialog.addEventListener('close', () => {
    dialog.remove();
    resolveClosed();
    if (opener?.isConnected) opener.focus();
    else {
      rememberFocus();
      restoreFocus();
    }
  });
  // onCancel may keep the dialog open on Escape (returns false). Handled on keydown too, because Chromium
  // lets a page cancel the dialog's own cancel event only after a fresh user activation.
  dialog.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && onCancel && onCancel(e) === false) e.preventDefault();
  });
  dialog.addEventListener('cancel', (e) => {
    if (onCancel && onCancel(e) === false) e.preventDefault();
  });
  if (onSubmit) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const submitter = e.submitter || form.querySelector('button[type=submit]');
      clearErrors(form);
      await busy(submitter, async () => {
        try {
          await onSubmit(form, submitter);
        } catch (err) {
          if (!(err instanceof Error)) throw err;
          showError(form, err);
        }
      });
    });
  }
  document.body.append(dialog);
  dialog.showModal();
  const first = form.querySelector('[autofocus]') || form.querySelector('.dlg-body input:not([disabled]), .dlg-body select:not([disabled]), .dlg-body textarea');
  if (first) first.focus();
  return { dialog, form, close, closed };
}

// A confirmation step. Resolves true when the person confirms.
export function confirmStep(title, text, actionLabel, { danger = true, detail } = {}) {
  let ok = false;
  const textId = nextId('confirm-text');
  const m = modal(title, {
    id: 'confirm-dialog',
    size: 'sm',
    describedBy: textId,
    body: [h('p', { id: textId, text }), detail ? h('p', { class: 'muted', text: detail }) : null],
    actions: [
      h('button', { type: 'button', class: 'btn secondary', id: 'confirm-cancel', onclick: () => m.close() }, 'Cancel'),
      h('button', { type: 'button', class: `btn ${danger ? 'danger' : 'primary'}`, id: 'confirm-action',
        onclick: () => { ok = true; m.close(); } }, actionLabel),
    ],
  });
  // A destructive step starts on Cancel, so a stray Enter does no harm.
  m.form.querySelector(danger ? '#confirm-cancel' : '#confirm-action').focus();
  return m.closed.then(() => ok);
}

// ---------- errors ----------
export function clearErrors(root) {
  root.querySelectorAll('.field-error, .form-error').forEach((e) => e.remove());
  root.querySelectorAll('[aria-invalid]').forEach((c) => {
    c.removeAttribute('aria-invalid');
    const ids = (c.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.startsWith('err-'));
    if (ids.length) c.setAttribute('aria-describedby', ids.join(' '));
    else c.removeAttribute('aria-describedby');
  });
}

// Shows an error in words: under the field the API named (problem+json `field`), else at the form's foot.
// fieldMap maps API field names to form field names when they differ.
export function showError(root, err, { fieldMap = {} } = {}) {
  clearErrors(root);
  const message = err.message || 'Something went wrong.';
  const name = fieldMap[err.field] || err.field;
  const box = name && (root.querySelector(`[data-field="${CSS.escape(name)}"]`)
    || root.querySelector(`[name="${CSS.escape(name)}"]`)?.closest('.field'));
  if (box) {
    const closed = box.closest('details:not([open])');
    if (closed) closed.open = true;
    const errId = nextId('err');
    box.append(h('div', { class: 'field-error', id: errId, role: 'alert' }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), message));
    const control = box.querySelector(`[name="${CSS.escape(name)}"]`) || box.querySelector('input, select, textarea');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') || ''} ${errId}`.trim());
      control.focus();
    }
    return;
  }
  const el = h('div', { class: 'form-error', role: 'alert' }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), message);
  const slot = root.querySelector('.error-slot');
  if (slot) slot.append(el);
  else {
    const foot = root.querySelector('.dlg-foot, .actions');
    if (foot) foot.before(el);
    else root.append(el);
  }
}

// Disables a button (and marks it busy) while fn runs, so a slow request cannot be sent twice.
export async function busy(button, fn) {
  if (!button) return fn();
  if (button.getAttribute('aria-busy') === 'true') return undefined;
  button.setAttribute('aria-busy', 'true');
  button.disabled = true;
  try {
    return await fn();
  } finally {
    button.removeAttribute('aria-busy');
    if (button.isConnected) button.disabled = false;
  }
}

// ---------- toast ----------
let toastTimer;
export function toast(message, { error = false } = {}) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.classList.toggle('error', error);
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

// ---------- small pieces ----------
export const badge = (text, kind) => h('span', { class: `badge ${kind || text}`, text });

export function emptyState(title, text, action) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title', text: title }), text ? h('p', { class: 'muted', text }) : null, action || null);
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function errorPanel(err, retry) {
  const gone = err.status === 404;
  return h('div', { class: 'panel-error', role: 'alert' },
    h('p', { text: gone ? `${err.message} It may have been deleted, or you are not a member of it.` : err.message || 'Something went wrong.' }),
    gone ? h('a', { class: 'btn secondary', href: '#/services' }, 'Back to services')
      : retry ? h('button', { type: 'button', class: 'btn secondary', onclick: retry }, 'Try again') : null);
}

export const button = (label, attrs = {}, kind = 'primary') =>
  h('button', { type: 'button', ...attrs, class: `btn ${kind}${attrs.class ? ` ${attrs.class}` : ''}` }, label);
