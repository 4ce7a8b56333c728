// Secrets shown once (client secrets, minted tokens, secret access keys): a read-only field with a Copy
// button, an optional Show/Hide toggle, and a dialog that warns before it is closed with nothing copied.
import { h, nextId } from './dom.js';
import { button, modal } from './ui.js';

// A labelled read-only value with Copy. masked: starts hidden behind a "Show key" toggle.
// Returns {el, input, copied()}.
export function secretField(label, value, { id, copyLabel = 'Copy', copyId, masked = false, showId, what = 'value', kind = 'primary' } = {}) {
  const inputId = id || nextId('secret');
  const input = h('input', { type: masked ? 'password' : 'text', readOnly: true, value, id: inputId, class: 'secret-input',
    spellcheck: 'false', autocomplete: 'off', 'aria-describedby': `${inputId}-status` });
  const status = h('p', { class: 'copy-status', id: `${inputId}-status`, role: 'status', 'aria-live': 'polite' });
  const copy = button(copyLabel, { id: copyId || `${inputId}-copy`, onclick: () => doCopy() }, kind);
  let copied = false;
  async function doCopy() {
    let ok = false;
    if (navigator.clipboard?.writeText) {
      try { await navigator.clipboard.writeText(value); ok = true; } catch { /* blocked: fall back */ }
    }
    if (ok) {
      status.textContent = 'Copied to the clipboard.';
    } else {
      // execCommand copies the selection, and a password field cannot be selected: show it first.
      if (input.type === 'password') reveal(true);
      input.focus();
      input.setSelectionRange(0, value.length);
      try { ok = document.execCommand('copy'); } catch { ok = false; }
      status.textContent = ok ? `Copied to the clipboard. The ${what} is also selected.`
        : `This browser did not allow copying. The ${what} is selected: press Ctrl+C (⌘C on a Mac) to copy it.`;
    }
    copied = ok;
    copy.textContent = ok ? 'Copied ✓' : copyLabel;
  }
  const toggle = masked ? button('Show key', { id: showId || `${inputId}-show`, 'aria-controls': inputId, 'aria-pressed': 'false',
    onclick: () => reveal(input.type === 'password') }, 'secondary') : null;
  function reveal(show) {
    input.type = show ? 'text' : 'password';
    if (toggle) {
      toggle.textContent = show ? 'Hide key' : 'Show key';
      toggle.setAttribute('aria-pressed', String(show));
    }
  }
  input.addEventListener('focus', () => { if (input.type === 'text') input.select(); });
  const el = h('div', { class: 'field secret-field' },
    h('label', { for: inputId, class: 'secret-label', text: label }),
    h('div', { class: 'secret' }, input, h('div', { class: 'secret-buttons' }, toggle, copy)),
    status);
  return { el, input, status, copy, copied: () => copied };
}

// A dialog around one or more fields; `secret` (default: the first) is the one shown once. Escape before it
// was copied keeps the dialog open once, with a reminder in its status line. Resolves when closed.
export function onceDialog(title, { id, intro = [], fields, secret = fields[0], warning, after = [], doneLabel = 'Done', doneId = 'once-done' }) {
  const warnId = nextId('warn');
  let warned = false;
  const m = modal(title, {
    id,
    describedBy: warnId,
    body: [intro, fields.map((f) => f.el), h('div', { class: 'warning', id: warnId }, warning), after],
    actions: [h('button', { type: 'button', class: 'btn secondary', id: doneId, onclick: () => m.close() }, doneLabel)],
    onCancel: () => {
      if (warned || secret.copied()) return true;
      warned = true;
      secret.status.textContent = `Copy it before you close this dialog. Press Escape again or ${doneLabel} if you have stored it.`;
      return false;
    },
  });
  secret.copy.focus();
  return m.closed;
}
