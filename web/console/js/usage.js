// Usage tab: verifications per key per hour (valid and denied), drawn as stacked bars in inline SVG.
import { api, enc } from './api.js';
import { fmtNum, h, field, select, svg } from './dom.js';
import { errorPanel } from './ui.js';

const RANGES = [['24', 'Last 24 hours'], ['72', 'Last 3 days'], ['168', 'Last 7 days']];
const COLORS = { valid: '#2f9e6b', denied: '#d8574a' };

export async function tabUsage(svc, body) {
  const range = select('hours', RANGES, '24', { id: 'usage-range' });
  const keySel = h('select', { name: 'key', id: 'usage-key' });
  const view = h('div', { class: 'usage-view' });
  let usage = null;

  async function fetchUsage() {
    const [u, keys] = await Promise.all([
      api('GET', `/api/v1/services/${enc(svc.id)}/usage?hours=${range.value}`), listKeys(svc)]);
    usage = withEveryKey(u, keys, Number(range.value));
    const prev = keySel.value;
    keySel.replaceChildren(h('option', { value: '', text: 'All keys' }),
      ...usage.keys.map((k) => h('option', { value: k.keyId, text: keyName(k) })));
    keySel.value = usage.keys.some((k) => k.keyId === prev) ? prev : '';
    draw();
  }

  function draw() {
    const hours = Number(range.value);
    lastWidth = chartWidth();
    const selected = usage.keys.find((k) => k.keyId === keySel.value) || null;
    const series = selected ? selected.points : sumPoints(usage, hours);
    const valid = series.reduce((s, p) => s + p.valid, 0);
    const denied = series.reduce((s, p) => s + p.denied, 0);
    const rangeText = RANGES.find(([v]) => v === range.value)[1].toLowerCase();
    const who = selected ? keyName(selected) : 'all keys';
    view.replaceChildren(
      h('div', { class: 'stats' },
        stat('Valid', valid, 'total-valid', 'valid'),
        stat('Denied', denied, 'total-denied', 'denied'),
        stat('Denied share', valid + denied ? `${Math.round((denied * 100) / (valid + denied))}%` : '—', 'denied-share'),
        stat('Keys used', usage.keys.filter((k) => k.valid + k.denied > 0).length, 'keys-used')),
      h('div', { class: 'card chart-card' },
        h('div', { class: 'chart-head' },
          h('h3', { text: `Verifications per hour, ${who}` }),
          h('div', { class: 'legend', 'aria-hidden': 'true' },
            h('span', {}, h('i', { class: 'swatch valid' }), `Valid ${fmtNum(valid)}`),
            h('span', {}, h('i', { class: 'swatch denied' }), `Denied ${fmtNum(denied)}`))),
        chart(series, hours, `Verifications per hour for ${who}, ${rangeText}: ${valid} valid, ${denied} denied.`, chartWidth()),
        valid + denied ? null : h('p', { class: 'muted center',
          text: `No verifications ${selected ? `for ${who}` : 'of any key'} in the ${rangeText}.` }),
        hourlyTable(series)),
      perKeyTable(usage, hours, (id) => { keySel.value = id; draw(); keySel.focus(); }));
  }

  // The chart is drawn at the width it gets (text stays legible on a phone), and redrawn when that changes.
  const chartWidth = () => Math.max(280, Math.floor((view.clientWidth || body.clientWidth || 760) - 44));
  let lastWidth = 0;
  const onResize = () => {
    if (!view.isConnected) return window.removeEventListener('resize', onResize);
    if (usage && Math.abs(chartWidth() - lastWidth) > 8) draw();
  };
  window.addEventListener('resize', onResize);
  range.addEventListener('change', async () => {
    try {
      await fetchUsage();
    } catch (err) {
      if (err.status !== 401) view.replaceChildren(errorPanel(err, () => range.dispatchEvent(new Event('change'))));
    }
  });
  keySel.addEventListener('change', () => draw());
  body.replaceChildren(
    h('div', { class: 'toolbar' },
      h('div', {}, h('h2', { text: 'Usage' }),
        h('p', { class: 'muted', text: 'Verifications of this service’s keys, per hour: valid answers and denied ones (disabled, revoked, expired or refused).' })),
      h('div', { class: 'toolbar-controls' }, field('Period', range), field('Key', keySel))),
    view);
  await fetchUsage();
}

// Every key of the service, all pages: the usage answer lists only keys that were verified.
async function listKeys(svc) {
  const items = [];
  let cursor = null;
  do {
    const page = await api('GET', `/api/v1/services/${enc(svc.id)}/keys?limit=200${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

// The usage answer with a zero entry for each key that was not verified in the period, in the key list's
// order, then keys deleted since that still have usage.
function withEveryKey(usage, keys, hours) {
  const axis = sumPoints(usage, hours).map((p) => p.t);
  const used = new Map(usage.keys.map((k) => [k.keyId, k]));
  const zero = (k) => ({ keyId: k.id, start: k.start, description: k.description, valid: 0, denied: 0,
    points: axis.map((t) => ({ t, valid: 0, denied: 0 })) });
  const listed = keys.map((k) => used.get(k.id) || zero(k));
  const ids = new Set(keys.map((k) => k.id));
  return { ...usage, keys: [...listed, ...usage.keys.filter((k) => !ids.has(k.keyId))] };
}

// A key deleted since carries no start or description any more.
const keyName = (k) => (k.start ? `${k.start}…${k.description ? ` · ${k.description}` : ''}` : `${k.keyId} (deleted)`);

function sumPoints(usage, hours) {
  const base = usage.keys[0]?.points;
  const from = Date.parse(usage.from);
  const n = base ? base.length : Math.max(1, Math.round((Date.parse(usage.to) - from) / 1000 / (usage.bucketSeconds || 3600))) || hours;
  const out = Array.from({ length: n }, (_, i) => ({ t: base ? base[i].t : new Date(from + i * 3600e3).toISOString(), valid: 0, denied: 0 }));
  for (const k of usage.keys) k.points.forEach((p, i) => { if (out[i]) { out[i].valid += p.valid; out[i].denied += p.denied; } });
  return out;
}

function stat(label, value, id, kind) {
  return h('div', { class: `stat card${kind ? ` ${kind}` : ''}` },
    h('div', { class: 'stat-label', text: label }),
    h('div', { class: 'stat-num', id, text: typeof value === 'number' ? fmtNum(value) : value }));
}

// A tick step of 1, 2 or 5 × 10^n giving about four gridlines.
function niceMax(max) {
  if (max <= 4) return [Math.max(1, max), 1];
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return [Math.ceil(max / step) * step, step];
}

const hourFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

function chart(series, hours, label, width) {
  const W = width, H = width < 500 ? 200 : 260, L = 40, R = 8, T = 12, B = 30;
  const n = series.length || 1;
  const [top, step] = niceMax(Math.max(0, ...series.map((p) => p.valid + p.denied)));
  const slot = (W - L - R) / n;
  const bw = Math.max(1.5, slot * (hours > 72 ? 0.8 : 0.66));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label, id: 'usage-chart', width: W, height: H });
  for (let v = 0; v <= top; v += step) {
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: v ? 'grid' : 'axis' }),
      svg('text', { x: L - 8, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, fmtNum(v)));
  }
  const everyN = W < 500 ? 6 : 3;
  series.forEach((p, i) => {
    const x = L + i * slot + (slot - bw) / 2;
    const t = new Date(p.t);
    const g = svg('g', { class: 'bucket' },
      svg('title', {}, `${fullFmt.format(t)}: ${p.valid} valid, ${p.denied} denied`),
      svg('rect', { x: L + i * slot, y: T, width: slot, height: H - T - B, class: 'hit' }));
    if (p.valid) g.append(svg('rect', { x, y: y(p.valid), width: bw, height: Math.max(1, H - B - y(p.valid)), fill: COLORS.valid, class: 'bar-valid' }));
    if (p.denied) g.append(svg('rect', { x, y: y(p.valid + p.denied), width: bw, height: Math.max(1, y(p.valid) - y(p.valid + p.denied)), fill: COLORS.denied, class: 'bar-denied' }));
    root.append(g);
    const onMark = hours <= 24 ? i % everyN === 0 : t.getHours() === 0 && (hours <= 72 || W >= 500 || t.getDate() % 2 === 0);
    if (onMark) {
      root.append(svg('text', { x: L + i * slot + slot / 2, y: H - 10, 'text-anchor': 'middle', class: 'tick' },
        hours <= 24 ? hourFmt.format(t) : dayFmt.format(t)));
    }
  });
  return h('div', { class: 'chart-wrap' }, root);
}

function hourlyTable(series) {
  const rows = series.filter((p) => p.valid || p.denied);
  if (!rows.length) return null;
  return h('details', { class: 'hourly' }, h('summary', { text: 'Show the figures as a table' }),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data compact' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Hour' }), h('th', { scope: 'col', class: 'num', text: 'Valid' }), h('th', { scope: 'col', class: 'num', text: 'Denied' }))),
      h('tbody', {}, rows.map((p) => h('tr', {}, h('td', { text: fullFmt.format(new Date(p.t)) }),
        h('td', { class: 'num', text: fmtNum(p.valid) }), h('td', { class: 'num', text: fmtNum(p.denied) })))))));
}

function sparkline(points) {
  const W = 120, H = 24;
  const max = Math.max(1, ...points.map((p) => p.valid + p.denied));
  const w = W / points.length;
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spark', 'aria-hidden': 'true', preserveAspectRatio: 'none' });
  points.forEach((p, i) => {
    const hv = (p.valid / max) * H, hd = (p.denied / max) * H;
    if (hv) s.append(svg('rect', { x: i * w, y: H - hv, width: Math.max(0.8, w - 0.6), height: hv, fill: COLORS.valid }));
    if (hd) s.append(svg('rect', { x: i * w, y: H - hv - hd, width: Math.max(0.8, w - 0.6), height: hd, fill: COLORS.denied }));
  });
  return s;
}

function perKeyTable(usage, hours, pick) {
  if (!usage.keys.length) return h('div', { class: 'card' }, h('p', { class: 'muted center', text: 'This service has no keys yet.' }));
  const keys = [...usage.keys].sort((a, b) => (b.valid + b.denied) - (a.valid + a.denied));
  return h('div', { class: 'card flush' },
    h('h3', { class: 'card-title', text: 'Per key' }),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'usage-keys' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: 'Key' }), h('th', { scope: 'col', class: 'hide-sm', text: 'Description' }),
        h('th', { scope: 'col', class: 'num', text: 'Valid' }), h('th', { scope: 'col', class: 'num', text: 'Denied' }),
        h('th', { scope: 'col', class: 'hide-sm', text: `Last ${hours} h` }))),
      h('tbody', {}, keys.map((k) => h('tr', { dataset: { keyId: k.keyId } },
        h('td', {}, h('button', { type: 'button', class: 'rowlink mono', onclick: () => pick(k.keyId),
          'aria-label': `Chart ${k.start || k.keyId} only` }, k.start ? `${k.start}…` : k.keyId)),
        h('td', { class: 'hide-sm' }, k.start ? k.description || '—' : h('span', { class: 'muted', text: 'Deleted key' })),
        h('td', { class: 'num', text: fmtNum(k.valid) }),
        h('td', { class: 'num', text: fmtNum(k.denied) }),
        h('td', { class: 'hide-sm' }, sparkline(k.points))))))));
}
