// DOM and formatting helpers. Everything that comes from the server goes in as text, never as HTML.

// h('button', {class: 'x', onclick: fn}, 'Label', child, [more children])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const PROPS = new Set(['hidden', 'checked', 'disabled', 'required', 'selected', 'readOnly', 'value', 'open']);

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = k === 'value' ? String(v) : Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;

// A labelled form field: label, optional hint, the control, and room for an error under it.
// The control gets an id, and aria-describedby pointing at the hint.
export function field(label, control, { hint, name } = {}) {
  if (!control.id) control.id = nextId('f');
  const hintEl = hint ? h('div', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field', dataset: { field: name || control.name || '' } },
    h('label', { for: control.id, text: label }), hintEl, control);
}

export function input(name, attrs = {}) {
  return h('input', { type: 'text', name, ...attrs });
}

export function select(name, options, value, attrs = {}) {
  return h('select', { name, ...attrs },
    options.map(([v, label]) => h('option', { value: v, selected: v === value, text: label })));
}

// ---------- formatting ----------
const dtFull = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dtShort = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
const dtSec = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });

export const fmtTime = (t) => (t ? dtFull.format(new Date(t)) : '—');
export const fmtShort = (t) => (t ? dtShort.format(new Date(t)) : '—');
export const fmtSeconds = (t) => (t ? dtSec.format(new Date(t)) : '—');
export const fmtNum = (n) => Number(n || 0).toLocaleString();

// "3 minutes ago", "in 2 hours", "just now"
export function fmtRelative(t) {
  if (!t) return 'never';
  const diff = (new Date(t).getTime() - Date.now()) / 1000;
  const abs = Math.abs(diff);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  // A time a few seconds ahead (a webhook's next attempt) is "in 5 seconds", not "just now".
  if (diff >= 1.5 && diff < 45) return rtf.format(Math.round(diff), 'second');
  if (abs < 45) return 'just now';
  const units = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, secs] of units) {
    if (abs >= secs || unit === 'minute') return rtf.format(Math.round(diff / secs), unit);
  }
  return '';
}

// 7200 -> "2 hours", 90 -> "90 seconds", 86400 -> "1 day"
export function fmtDuration(secs) {
  if (secs === null || secs === undefined) return '—';
  const [value, unit] = splitDuration(secs);
  const name = { 1: 'second', 60: 'minute', 3600: 'hour', 86400: 'day' }[unit];
  return `${value} ${name}${value === 1 ? '' : 's'}`;
}

// The largest unit that divides secs exactly: [value, unitSeconds].
export function splitDuration(secs) {
  for (const unit of [86400, 3600, 60]) if (secs > 0 && secs % unit === 0) return [secs / unit, unit];
  return [secs, 1];
}

export const DURATION_UNITS = [['1', 'seconds'], ['60', 'minutes'], ['3600', 'hours'], ['86400', 'days']];
