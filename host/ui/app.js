// The mcp-edge dashboard. Everything it shows comes from the gateway's JSON
// API, asked with the same credentials as any client: an API key or access
// token typed into the sign-in form, kept for this tab only (sessionStorage).
// Data is put on the page as text (textContent), never as HTML; the page runs
// under a strict Content-Security-Policy (no inline script or style).

const TOKEN_KEY = 'mcp-edge-token';
const SVG = 'http://www.w3.org/2000/svg';
const $ = (selector) => document.querySelector(selector);

class Refused extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const res = await fetch(path, { ...init, headers });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401 || res.status === 403) throw new Refused(res.status, body.error?.message ?? body.error ?? `refused (${res.status})`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${body.error?.message ?? body.error ?? ''}`);
  return body;
}

/** Replaces a table body's rows; each cell is text, or [text, className]. */
function fillTable(selector, rows) {
  const body = $(`${selector} tbody`);
  body.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement('tr');
      for (const cell of cells) {
        const td = document.createElement('td');
        const [text, cls] = Array.isArray(cell) ? cell : [cell, typeof cell === 'number' ? 'num' : ''];
        td.textContent = text === null || text === undefined ? '' : String(text);
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }),
  );
}

/** A bar chart as SVG: one bar per [label, value]; each bar says its value in data-value. */
function barChart(selector, bars) {
  const width = 640;
  const height = 160;
  const max = Math.max(1, ...bars.map(([, v]) => v));
  const step = bars.length ? width / bars.length : width;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height + 30));
  bars.forEach(([label, value], i) => {
    const h = Math.round((value / max) * height);
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(i * step + 2));
    rect.setAttribute('y', String(height - h));
    rect.setAttribute('width', String(Math.max(1, step - 4)));
    rect.setAttribute('height', String(h));
    rect.dataset.label = label;
    rect.dataset.value = String(value);
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${label}: ${value}`;
    rect.append(title);
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(i * step + 2));
    text.setAttribute('y', String(height + 14));
    text.textContent = label;
    svg.append(rect, text);
  });
  $(selector).replaceChildren(svg);
}

function renderHealth(health) {
  const status = $('#status');
  status.textContent = health.status;
  status.className = `badge ${health.status}`;
  $('#version').textContent = health.version ? `v${health.version}, up ${health.uptime_seconds} s, ${health.sessions} sessions` : '';
  fillTable('#providers', (health.providers ?? []).map((p) => [p.id, p.kind, [p.state, p.state], p.detail ?? '']));
}

/** Fills a <dl> with [term, value] pairs; each value says its term in data-key. */
function fillList(selector, items) {
  $(selector).replaceChildren(
    ...items.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = String(v);
      dd.dataset.key = k;
      return [dt, dd];
    }),
  );
}

function renderPower(power) {
  if (!power) return;
  fillList('#power', [
    ['mode', power.mode],
    ['why', power.why],
    ['since', new Date(power.since).toLocaleTimeString()],
    ['asleep', power.asleep ? 'yes' : 'no'],
    ['sleeps', power.sleeps],
    ['sleep on idle', power.sleep_on_idle_ms ? `${power.sleep_on_idle_ms} ms` : 'off'],
  ]);
}

function renderMesh(mesh) {
  $('#mesh').hidden = !mesh.enabled;
  if (!mesh.enabled) return;
  fillList('#mesh-node', [
    ['peer id', mesh.peer_id],
    ['connections', mesh.connections],
    ['shares', mesh.shares.map((t) => t.name).join(', ') || '-'],
  ]);
  fillTable('#mesh-peers', mesh.peers.map((p) => [p.peer_id, [p.state, p.state], p.tools.map((t) => t.name).join(', '), p.heard ? new Date(p.heard).toLocaleTimeString() : '-']));
}

function renderQueue(queue) {
  const items = [
    ['waiting', queue.depth],
    ['bytes', queue.bytes],
    ['oldest', queue.oldest_age_ms === null ? '-' : `${Math.round(queue.oldest_age_ms / 1000)} s`],
    ['last sync', queue.last_sync_ms === null ? 'never' : new Date(queue.last_sync_ms).toLocaleTimeString()],
    ['last error', queue.last_error ?? '-'],
    ['destinations', queue.destinations.map((d) => `${d.destination} (${d.depth} waiting, ${d.failures} failures)`).join(', ') || '-'],
  ];
  fillList('#queue', items);
}

function renderAnalytics(report) {
  const perHour = new Map();
  for (const h of report.hours) perHour.set(h.hour, (perHour.get(h.hour) ?? 0) + h.calls);
  barChart('#chart-hours', [...perHour].map(([hour, calls]) => [hour.slice(11, 16), calls]));
  barChart('#chart-tools', report.tools.slice(0, 12).map((t) => [t.tool, t.calls]));
  fillTable('#tool-stats', report.tools.map((t) => [t.tool, t.calls, t.errors, t.latency_ms.p50, t.latency_ms.p95, t.latency_ms.p99, t.tokens]));
}

function renderRecent(recent) {
  fillTable('#recent', recent.calls.map((c) => [new Date(c.at).toLocaleTimeString(), c.tool, c.provider || '-', c.principal, Number(c.latency_ms.toFixed(2)), c.error ? ['error', 'error-outcome'] : 'ok']));
}

function showSignIn(reason) {
  $('#dashboard').hidden = true;
  $('#signin').hidden = false;
  $('#signin-reason').textContent = reason;
}

async function refresh() {
  $('#error').hidden = true;
  try {
    // Analytics may be off (analytics.enabled = false): their sections stay empty then.
    const optional = (path) => api(path).catch((err) => (err instanceof Refused ? Promise.reject(err) : null));
    const [health, tools, queue, mesh, analytics, recent] = await Promise.all([
      api('/health'),
      api('/v1/tools'),
      api('/v1/queue/status'),
      api('/v1/mesh'),
      optional('/v1/analytics'),
      optional('/v1/analytics/recent'),
    ]);
    $('#signin').hidden = true;
    $('#dashboard').hidden = false;
    renderHealth(health);
    renderPower(health.power);
    renderMesh(mesh);
    fillTable('#tools', tools.tools.map((t) => [t.tool, t.providers.join(', ')]));
    renderQueue(queue);
    if (analytics) renderAnalytics(analytics);
    if (recent) renderRecent(recent);
    document.body.dataset.loaded = String(Date.now());
  } catch (err) {
    if (err instanceof Refused) showSignIn(`The gateway refused the request (${err.status}): ${err.message}`);
    else {
      $('#error').hidden = false;
      $('#error').textContent = String(err.message ?? err);
    }
  }
}

$('#signin').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
  $('#token').value = '';
  void refresh();
});

$('#sync').addEventListener('click', async () => {
  const out = $('#sync-result');
  out.textContent = 'syncing...';
  try {
    const r = await api('/v1/queue/sync', { method: 'POST' });
    out.textContent = `delivered ${r.delivered}, failed ${r.failed}${r.unreachable.length ? `, unreachable: ${r.unreachable.join(', ')}` : ''}`;
    renderQueue(r.status);
  } catch (err) {
    out.textContent = `sync failed: ${err.message}`;
  }
});

$('#refresh').addEventListener('click', () => void refresh());
setInterval(() => void refresh(), 5000);
void refresh();
