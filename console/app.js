// weir console: plain JavaScript, no framework and no build step. It reads weir's JSON API
// (the same routes the CLI uses), re-reads the page's data every few seconds, and draws the
// task graphs and CI relationships as SVG itself. Credentials (when the API has auth on) live
// in sessionStorage and travel only in the Authorization header the console sets itself.
'use strict';

(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => (
    { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const enc = encodeURIComponent;
  const fmtNumber = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : esc(n ?? '–'));

  // ---------------------------------------------------------------- API and credentials
  const AUTH_KEY = 'weir-console-auth';
  let auth = sessionStorage.getItem(AUTH_KEY) || '';

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = { 'X-Weir-Console': '1', Accept: 'application/json' };
    if (auth) headers.Authorization = auth;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(path, {
      method, headers, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (response.status === 401) {
      showLogin(auth ? 'Those credentials were refused.' : '');
      throw new ApiError(401, (data && data.error) || 'sign in first');
    }
    if (!response.ok) {
      throw new ApiError(response.status, (data && data.error) || `${response.status} ${response.statusText}`);
    }
    return data;
  }

  function showLogin(message) {
    stopPolling();
    $('#main').hidden = true;
    const form = $('#login');
    const wasHidden = form.hidden;
    form.hidden = false;
    $('#login-error').textContent = message || '';
    $('#signout').hidden = true;
    $('#live').textContent = 'not signed in';
    if (wasHidden) $('#login-user').focus();
  }

  function setupLogin() {
    $('#login').addEventListener('submit', async (event) => {
      event.preventDefault();
      const user = $('#login-user').value;
      const password = $('#login-password').value;
      const token = $('#login-token').value.trim();
      if (!token && !user) {
        $('#login-error').textContent = 'Enter a user and password, or a token.';
        return;
      }
      auth = token ? `Bearer ${token}` : `Basic ${btoa(unescape(enc(`${user}:${password}`)))}`;
      try {
        await api('GET', '/weir/v1/config/status');
      } catch (error) {
        if (error.status !== 401) $('#login-error').textContent = error.message;
        return;
      }
      sessionStorage.setItem(AUTH_KEY, auth);
      $('#login').hidden = true;
      $('#login-password').value = '';
      $('#login-token').value = '';
      $('#main').hidden = false;
      $('#signout').hidden = false;
      route();
    });
    $('#signout').addEventListener('click', () => {
      auth = '';
      sessionStorage.removeItem(AUTH_KEY);
      showLogin('Signed out.');
    });
    $('#signout').hidden = !auth;
  }

  // ---------------------------------------------------------------- time, states, helpers
  function parseTime(value) {
    if (value === null || value === undefined || value === '') return null;
    // CI times are nanoseconds since the epoch; everything else is RFC 3339.
    const date = typeof value === 'number' ? new Date(value / 1e6) : new Date(value);
    return Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1971 ? null : date;
  }

  function ageText(date, now = Date.now(), due = false) {
    let seconds = Math.round((now - date.getTime()) / 1000);
    if (due && seconds >= 0) return 'due now';
    const future = seconds < 0;
    seconds = Math.abs(seconds);
    let text;
    if (seconds < 60) text = `${seconds} s`;
    else if (seconds < 3600) text = `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
    else if (seconds < 86400) text = `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
    else text = `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
    return future ? `in ${text}` : `${text} ago`;
  }

  // An elapsed age that ticks every second, with the exact time on hover and for readers.
  function timeEl(value, field = '', none = 'never', due = false) {
    const date = parseTime(value);
    if (!date) return `<span class="muted" data-field="${esc(field)}">${esc(none)}</span>`;
    const exact = `${date.toLocaleString()} (${date.toISOString()})`;
    return `<time class="age" data-field="${esc(field)}"${due ? ' data-due' : ''} datetime="${date.toISOString()}" title="${esc(exact)}">${ageText(date, Date.now(), due)}</time>`;
  }

  setInterval(() => {
    const now = Date.now();
    for (const el of $$('time.age')) el.textContent = ageText(new Date(el.getAttribute('datetime')), now, el.hasAttribute('data-due'));
  }, 1000);

  const STATE_LABELS = {
    healthy: 'Healthy', degraded: 'Degraded', unhealthy: 'Unhealthy', 'circuit-open': 'Circuit Open',
    disabled: 'Disabled', pending: 'Pending', unknown: 'Unknown', enabled: 'Enabled',
    executing: 'Executing', created: 'Created', updated: 'Updated', deleted: 'Deleted',
    applied: 'Applied', rejected: 'Rejected',
  };
  const STATE_CLASSES = { applied: 'healthy', rejected: 'unhealthy' };
  const stateKey = (state) => String(state || 'unknown').toLowerCase().replace(/[_\s]+/g, '-')
    .replace(/^circuitopen$/, 'circuit-open');
  function badge(state) {
    const key = stateKey(state);
    const css = STATE_CLASSES[key] || key;
    return `<span class="badge state-${esc(css)}">${esc(STATE_LABELS[key] || key)}</span>`;
  }
  const SEVERITY = ['disabled', 'healthy', 'unknown', 'pending', 'degraded', 'unhealthy', 'circuit-open'];
  const worst = (states) => states.reduce((a, b) => (SEVERITY.indexOf(stateKey(b)) > SEVERITY.indexOf(stateKey(a)) ? b : a), 'disabled');

  function seconds(value) {
    if (value === null || value === undefined) return '–';
    if (value < 1) return `${Math.round(value * 1000)} ms`;
    return `${value.toFixed(2)} s`;
  }

  // Replace a container's markup only when it changed, keeping the keyboard focus on the
  // element with the same data-key (polling must not steal focus from a button).
  function patch(el, html) {
    if (!el || el.dataset.html === html) return;
    const active = document.activeElement;
    const key = active && el.contains(active) ? active.getAttribute('data-key') : null;
    el.innerHTML = html;
    el.dataset.html = html;
    if (key) {
      const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (again) again.focus();
    }
  }

  let announceTimer = null;
  function announce(message) {
    const el = $('#announce');
    el.textContent = message;
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => { el.textContent = ''; }, 8000);
  }

  // Outcomes of actions, shown in their card until the next action there.
  const results = new Map();
  function resultHtml(key) {
    const result = results.get(key);
    if (!result) return '<p class="result" role="status"></p>';
    return `<p class="result${result.error ? ' error' : ''}" role="status" data-result="${esc(key)}">${esc(result.message)} <span class="muted">(${esc(result.at.toLocaleTimeString())})</span></p>`;
  }

  async function act(button, key, work) {
    button.disabled = true;
    try {
      const message = await work();
      results.set(key, { message, error: false, at: new Date() });
      announce(message);
    } catch (error) {
      const message = `Failed: ${error.message}`;
      results.set(key, { message, error: true, at: new Date() });
      announce(message);
    } finally {
      button.disabled = false;
    }
    await refreshNow();
  }

  // Recent failures and state transitions: read whatever the API reports, under the names
  // weir uses or may use (`failures`, `recent_failures`, `history.failures`, ...).
  const pick = (object, names) => {
    for (const name of names) {
      const value = name.split('.').reduce((o, k) => (o ? o[k] : undefined), object);
      if (Array.isArray(value)) return value;
    }
    return null;
  };
  const failuresOf = (item) => pick(item, ['recent_failures', 'failures', 'history.failures', 'health.failures']);
  const transitionsOf = (item) => pick(item, ['transitions', 'state_transitions', 'history.transitions', 'health.transitions']);
  const whenOf = (entry) => entry.time ?? entry.at ?? entry.timestamp ?? entry.when;
  const messageOf = (entry) => entry.message ?? entry.error ?? entry.reason ?? '';

  function failuresHtml(entries, limit = 6) {
    if (!entries.length) return '<p class="muted">No failures recorded.</p>';
    entries.sort((a, b) => (parseTime(b.when)?.getTime() || 0) - (parseTime(a.when)?.getTime() || 0));
    return `<ul class="failures">${entries.slice(0, limit).map((e) => `<li>${timeEl(e.when)} <strong>${esc(e.who)}</strong>: ${esc(e.message)}</li>`).join('')}</ul>`;
  }

  function transitionsHtml(entries, limit = 10) {
    if (!entries.length) return '<p class="muted">No state change recorded.</p>';
    entries.sort((a, b) => (parseTime(b.when)?.getTime() || 0) - (parseTime(a.when)?.getTime() || 0));
    return `<ol class="timeline" aria-label="State transitions, newest first">${entries.slice(0, limit).map((e) => `<li>${timeEl(e.when)} ${e.who ? `<span>${esc(e.who)}</span>` : ''} ${e.from ? badge(e.from) : ''} → ${badge(e.to)}</li>`).join('')}</ol>`;
  }

  // ---------------------------------------------------------------- router and polling
  let generation = 0;
  let timer = null;
  let view = null;

  function stopPolling() { generation += 1; clearTimeout(timer); }

  async function refreshNow() {
    if (!view) return;
    const gen = generation;
    try {
      await view.refresh();
      if (gen === generation) markLive(true);
    } catch (error) {
      if (gen === generation && error.status !== 401) {
        markLive(false, error.message);
        if (view.showError) view.showError(error);
      }
    }
  }

  function markLive(ok, why) {
    const live = $('#live');
    live.classList.toggle('stale', !ok);
    live.textContent = ok ? `live · updated ${new Date().toLocaleTimeString()}` : `not updating: ${why}`;
  }

  function parseHash() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [path, query = ''] = hash.split('?');
    const parts = path.split('/').filter(Boolean);
    return { page: parts[0] || 'collectors', arg: parts[1] ? decodeURIComponent(parts[1]) : null, params: new URLSearchParams(query) };
  }

  function route() {
    stopPolling();
    const { page, arg, params } = parseHash();
    const factory = PAGES[page] || PAGES.collectors;
    for (const link of $$('[data-nav]')) {
      if (link.dataset.nav === page) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const main = $('#main');
    main.innerHTML = '';
    view = factory(main, arg, params);
    document.title = `${view.title} · weir console`;
    const gen = generation;
    const tick = async () => {
      if (gen !== generation) return;
      await refreshNow();
      if (gen === generation) timer = setTimeout(tick, view.interval || 2000);
    };
    tick();
  }

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button || !view || !view.actions) return;
    const action = view.actions[button.dataset.action];
    if (action) action(button);
  });

  // ---------------------------------------------------------------- collectors
  const CARD_TARGETS = 50;

  function scraperState(scraper) {
    if (!scraper.enabled) return 'disabled';
    if (scraper.error) return 'unhealthy';
    if (!scraper.targets || !scraper.last_collection) return 'pending';
    if (scraper.circuits_open >= scraper.targets) return 'circuit-open';
    if (scraper.targets_up >= scraper.targets) return 'healthy';
    if (scraper.targets_up === 0) return 'unhealthy';
    return 'degraded';
  }

  const instanceOf = (target) => (target.labels && target.labels.instance) || target.url;

  function targetRows(targets) {
    return targets.map((t) => `<tr data-target-url="${esc(t.url)}">
      <td class="wrap">${esc(instanceOf(t))}</td><td>${badge(t.state)}</td>
      <td>${timeEl(t.last_scrape, 'last-scrape')}</td><td class="num">${seconds(t.last_duration_seconds)}</td>
      <td class="num">${fmtNumber(t.last_samples)}</td><td class="wrap error">${esc(t.last_error || '')}</td></tr>`).join('');
  }

  function scraperCard(scraper, page) {
    const name = scraper.name;
    const state = scraperState(scraper);
    const targets = page.targets || [];
    const failures = [];
    const transitions = [];
    for (const t of targets) {
      const history = failuresOf(t);
      if (history) for (const f of history) failures.push({ when: whenOf(f), who: instanceOf(t), message: messageOf(f) });
      else if (t.last_error) failures.push({ when: t.last_scrape, who: instanceOf(t), message: t.last_error });
      for (const tr of transitionsOf(t) || []) transitions.push({ when: whenOf(tr), who: instanceOf(t), from: tr.from, to: tr.to ?? tr.state });
    }
    const hasHistory = targets.some((t) => transitionsOf(t));
    const key = `scraper:${name}`;
    const more = page.total > targets.length
      ? `<p><a href="#/targets?scraper=${enc(name)}">All ${fmtNumber(page.total)} targets of ${esc(name)}</a></p>` : '';
    return `<section class="card" data-scraper="${esc(name)}" aria-label="Scraper ${esc(name)}">
      <header><h2>${esc(name)}</h2><span class="card-state">${badge(state)}</span>
        <span class="kind">scraper · targets from ${esc(scraper.discoverer_service)} <code>${esc(scraper.discoverer_id)}</code></span></header>
      <dl class="facts">
        <dt>Targets</dt><dd>${fmtNumber(scraper.targets)} (${fmtNumber(scraper.targets_up)} up, ${fmtNumber(scraper.circuits_open)} circuit open)</dd>
        <dt>Last collection</dt><dd>${timeEl(scraper.last_collection, 'last-collection')}</dd>
        <dt>Next scheduled</dt><dd>${scraper.enabled ? timeEl(scraper.next_collection, 'next-collection', 'not scheduled', true) : '<span class="muted">not scheduled (disabled)</span>'}</dd>
        <dt>Interval</dt><dd>every ${esc(scraper.scrape_interval)}, timeout ${esc(scraper.scrape_timeout)}</dd>
        <dt>Samples</dt><dd>${fmtNumber(scraper.samples_per_interval)} per interval</dd>
        <dt>Errors</dt><dd data-field="errors">${fmtNumber(scraper.errors_total)} of ${fmtNumber(scraper.scrapes_total)} scrapes${scraper.parse_errors_total ? `, ${fmtNumber(scraper.parse_errors_total)} malformed lines` : ''}</dd>
        <dt>State changes</dt><dd>${fmtNumber(scraper.circuit_transitions)}</dd>
        <dt>Writes to</dt><dd><code>${esc(scraper.db)}.${esc(scraper.rp)}</code></dd>
        ${(scraper.dropped_targets || []).length ? `<dt>Not scraped</dt><dd>${scraper.dropped_targets.map(esc).join('<br>')}</dd>` : ''}
      </dl>
      ${scraper.error ? `<p class="error">${esc(scraper.error)}</p>` : ''}
      <div class="actions">
        <button type="button" class="primary" data-action="collect" data-name="${esc(name)}" data-key="collect:${esc(name)}"${scraper.enabled ? '' : ' disabled title="A disabled scraper collects nothing: enable it first"'}>Collect now</button>
        <button type="button" data-action="toggle-scraper" data-name="${esc(name)}" data-enabled="${scraper.enabled}" data-key="toggle:${esc(name)}">${scraper.enabled ? 'Disable' : 'Enable'}</button>
      </div>
      ${resultHtml(key)}
      <h3>Recent failures</h3>${failuresHtml(failures)}
      <h3>State transitions</h3>${hasHistory ? transitionsHtml(transitions) : `<p class="muted">${fmtNumber(scraper.circuit_transitions)} since start (this weir reports no timeline).</p>`}
      <h3>Targets</h3>
      <div class="table-wrap"><table><caption class="muted">${targets.length < page.total ? `First ${targets.length} of ${fmtNumber(page.total)}` : `${fmtNumber(page.total)} target${page.total === 1 ? '' : 's'}`}</caption>
        <thead><tr><th scope="col">Instance</th><th scope="col">State</th><th scope="col">Last scrape</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Samples</th><th scope="col">Last error</th></tr></thead>
        <tbody>${targetRows(targets)}</tbody></table></div>${more}
    </section>`;
  }

  function sourceBlock(source, ciCounts) {
    const key = `source:${source.id}`;
    const failures = (failuresOf(source) || []).map((f) => ({ when: whenOf(f), who: source.id, message: messageOf(f) }));
    if (!failures.length && source.last_error) failures.push({ when: null, who: source.id, message: source.last_error });
    const transitions = (transitionsOf(source) || []).map((t) => ({ when: whenOf(t), from: t.from, to: t.to ?? t.state }));
    const ciCount = ciCounts ? ciCounts[`${source.kind}/${source.id}`] : undefined;
    const watch = source.watch;
    return `<div class="source" data-source="${esc(source.id)}">
      <h3>${esc(source.id)} ${badge(source.state)}</h3>
      <dl class="facts">
        <dt>Targets</dt><dd>${fmtNumber(source.targets)}</dd>
        <dt>Last refresh</dt><dd>${timeEl(source.last_refresh, 'last-refresh')}${source.last_refresh_seconds != null ? ` <span class="muted">(took ${seconds(source.last_refresh_seconds)})</span>` : ''}</dd>
        <dt>Next refresh</dt><dd>${timeEl(source.next_refresh, 'next-refresh', 'not scheduled', true)}</dd>
        <dt>Errors</dt><dd>${fmtNumber(source.error_count)}${source.consecutive_failures ? `, ${fmtNumber(source.consecutive_failures)} in a row` : ''}</dd>
        <dt>CIs</dt><dd>${ciCount === undefined ? '<span class="muted">none</span>' : fmtNumber(ciCount)}</dd>
        ${watch ? `<dt>Watch</dt><dd>${esc(watch.mode)}; last event ${timeEl(watch.last_watch_event)}; last full list ${timeEl(watch.last_reconciliation)} (${fmtNumber(watch.total_corrections)} corrections)</dd>` : ''}
      </dl>
      <div class="actions">
        <button type="button" data-action="refresh-source" data-id="${esc(source.id)}" data-key="refresh:${esc(source.id)}">Refresh now</button>
        <button type="button" data-action="toggle-source" data-id="${esc(source.id)}" data-enabled="${source.enabled}" data-key="toggle-source:${esc(source.id)}">${source.enabled ? 'Disable' : 'Enable'}</button>
      </div>
      ${resultHtml(key)}
      ${failures.length ? `<h4>Recent failures</h4>${failuresHtml(failures)}` : ''}
      ${transitions.length ? `<h4>State transitions</h4>${transitionsHtml(transitions)}` : ''}
    </div>`;
  }

  function discoveryCard(kind, sources, ciCounts) {
    const state = worst(sources.map((s) => s.state));
    return `<section class="card" data-discovery="${esc(kind)}" aria-label="Discovery ${esc(kind)}">
      <header><h2>${esc(kind)}</h2><span class="card-state">${badge(state)}</span>
        <span class="kind">discovery · ${sources.length} source${sources.length === 1 ? '' : 's'}, ${fmtNumber(sources.reduce((n, s) => n + (s.targets || 0), 0))} targets</span></header>
      ${sources.map((s) => sourceBlock(s, ciCounts)).join('')}
    </section>`;
  }

  // CI counts read every item of the store: once every 30 s is enough for a count.
  let ciCountCache = { at: 0, value: null };
  async function loadCiCounts() {
    if (Date.now() - ciCountCache.at > 30000) {
      const value = await api('GET', '/weir/v1/console/ci-counts').catch(() => null);
      ciCountCache = { at: Date.now(), value };
    }
    return ciCountCache.value;
  }

  function collectorsPage(main) {
    main.innerHTML = `<h1>Collectors</h1>
      <p class="muted">Scrapers collect metrics from the targets that discovery finds. States update by themselves every few seconds.</p>
      <h2 id="scrapers-heading">Scrapers</h2><div class="cards" id="scraper-cards" aria-labelledby="scrapers-heading"></div>
      <h2 id="discovery-heading">Discovery</h2><div class="cards" id="discovery-cards" aria-labelledby="discovery-heading"></div>
      <p id="collectors-error" class="error" role="alert"></p>`;
    return {
      title: 'Collectors',
      interval: 2000,
      async refresh() {
        const [scrapers, discoverers, counts] = await Promise.all([
          api('GET', '/weir/v1/scrapers'),
          api('GET', '/weir/v1/discoverers'),
          loadCiCounts(),
        ]);
        const list = scrapers.scrapers || [];
        const pages = await Promise.all(list.map((s) => api('GET', `/weir/v1/console/targets?scraper=${enc(s.name)}&limit=${CARD_TARGETS}&problems_first=true`)));
        patch($('#scraper-cards'), list.length
          ? list.map((s, i) => scraperCard(s, pages[i])).join('')
          : '<p class="muted">No scrapers are configured (<code>[[scraper]]</code>).</p>');
        const byKind = new Map();
        for (const source of discoverers.discoverers || []) {
          if (!byKind.has(source.kind)) byKind.set(source.kind, []);
          byKind.get(source.kind).push(source);
        }
        patch($('#discovery-cards'), byKind.size
          ? Array.from(byKind, ([kind, sources]) => discoveryCard(kind, sources, counts && counts.sources)).join('')
          : '<p class="muted">No discovery sources are configured.</p>');
        $('#collectors-error').textContent = '';
      },
      showError(error) { $('#collectors-error').textContent = `Could not load: ${error.message}`; },
      actions: {
        collect: (button) => act(button, `scraper:${button.dataset.name}`, async () => {
          const r = await api('POST', `/weir/v1/scrapers/${enc(button.dataset.name)}/collect`);
          const failed = (r.failures || []).map((f) => `${f.instance}: ${f.reason}`);
          return `Collected ${button.dataset.name}: ${r.targets} target${r.targets === 1 ? '' : 's'}, ${r.samples} samples in ${seconds(r.duration_seconds)}${failed.length ? `; ${failed.length} failed (${failed.join('; ')})` : ''}.`;
        }),
        'toggle-scraper': (button) => act(button, `scraper:${button.dataset.name}`, async () => {
          const enabled = button.dataset.enabled !== 'true';
          await api('PATCH', `/weir/v1/scrapers/${enc(button.dataset.name)}`, { enabled });
          return `Scraper ${button.dataset.name} ${enabled ? 'enabled' : 'disabled'}.`;
        }),
        'refresh-source': (button) => act(button, `source:${button.dataset.id}`, async () => {
          await api('POST', `/weir/v1/discoverers/${enc(button.dataset.id)}/refresh`);
          return `Discovery source ${button.dataset.id} refreshed.`;
        }),
        'toggle-source': (button) => act(button, `source:${button.dataset.id}`, async () => {
          const enabled = button.dataset.enabled !== 'true';
          await api('PATCH', `/weir/v1/discoverers/${enc(button.dataset.id)}`, { enabled });
          return `Discovery source ${button.dataset.id} ${enabled ? 'enabled' : 'disabled'}.`;
        }),
      },
    };
  }

  // ---------------------------------------------------------------- targets
  const TARGET_STATES = ['healthy', 'degraded', 'unhealthy', 'circuit-open', 'unknown', 'disabled'];

  function targetsPage(main, _arg, params) {
    const pageSize = 100;
    let offset = 0;
    main.innerHTML = `<h1>Targets</h1>
      <form class="filters" id="target-filters" role="search">
        <label>Search <input id="target-q" type="search" placeholder="instance, URL, label value" value="${esc(params.get('q') || '')}"></label>
        <label>State <select id="target-state"><option value="">All</option><option value="problem">Not healthy</option>
          ${TARGET_STATES.map((s) => `<option value="${s}">${STATE_LABELS[s]}</option>`).join('')}</select></label>
        <label>Scraper <select id="target-scraper"><option value="">All</option></select></label>
      </form>
      <p id="target-summary" class="muted" aria-live="polite"></p>
      <div class="table-wrap"><table>
        <thead><tr><th scope="col">Job</th><th scope="col">Instance</th><th scope="col">State</th><th scope="col">Last scrape</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Samples</th><th scope="col">Last error</th></tr></thead>
        <tbody id="target-rows"></tbody></table></div>
      <div class="pager"><button type="button" data-action="prev" data-key="prev">Previous page</button>
        <span id="target-page"></span><button type="button" data-action="next" data-key="next">Next page</button></div>
      <p id="targets-error" class="error" role="alert"></p>`;
    $('#target-state').value = params.get('state') || '';
    const wanted = params.get('scraper') || '';
    let debounce = null;
    let total = 0;
    const changed = () => { clearTimeout(debounce); debounce = setTimeout(() => { offset = 0; refreshNow(); }, 250); };
    $('#target-q').addEventListener('input', changed);
    $('#target-state').addEventListener('change', changed);
    $('#target-scraper').addEventListener('change', changed);
    $('#target-filters').addEventListener('submit', (e) => { e.preventDefault(); changed(); });
    let scrapersLoaded = false;
    return {
      title: 'Targets',
      interval: 3000,
      async refresh() {
        if (!scrapersLoaded) {
          const scrapers = await api('GET', '/weir/v1/scrapers');
          const select = $('#target-scraper');
          for (const s of scrapers.scrapers || []) select.add(new Option(s.name, s.name));
          select.value = wanted;
          scrapersLoaded = true;
        }
        const query = new URLSearchParams({
          q: $('#target-q').value, state: $('#target-state').value, scraper: $('#target-scraper').value,
          offset: String(offset), limit: String(pageSize),
        });
        const page = await api('GET', `/weir/v1/console/targets?${query}`);
        total = page.total;
        if (offset >= total && total > 0) { offset = Math.floor((total - 1) / pageSize) * pageSize; return this.refresh(); }
        patch($('#target-rows'), page.targets.map((t) => `<tr data-target-url="${esc(t.url)}">
          <td>${esc(t.labels?.job || t.scraper)}</td><td class="wrap">${esc(instanceOf(t))}<br><span class="muted">${esc(t.url)}</span></td>
          <td>${badge(t.state)}</td><td>${timeEl(t.last_scrape, 'last-scrape')}</td><td class="num">${seconds(t.last_duration_seconds)}</td>
          <td class="num">${fmtNumber(t.last_samples)}</td><td class="wrap error">${esc(t.last_error || '')}</td></tr>`).join('')
          || '<tr><td colspan="7" class="muted">No target matches.</td></tr>');
        const counts = Object.entries(page.states || {}).map(([s, n]) => `${STATE_LABELS[s] || s}: ${n.toLocaleString('en-US')}`).join(' · ');
        $('#target-summary').textContent = `${total.toLocaleString('en-US')} matching${counts ? ` (${counts})` : ''}`;
        $('#target-page').textContent = total ? `Showing ${offset + 1}–${Math.min(offset + pageSize, total)} of ${total.toLocaleString('en-US')}` : '';
        $('[data-action="prev"]').disabled = offset === 0;
        $('[data-action="next"]').disabled = offset + pageSize >= total;
        $('#targets-error').textContent = '';
      },
      showError(error) { $('#targets-error').textContent = `Could not load: ${error.message}`; },
      actions: {
        prev: () => { offset = Math.max(0, offset - pageSize); refreshNow(); },
        next: () => { if (offset + pageSize < total) offset += pageSize; refreshNow(); },
      },
    };
  }

  // ---------------------------------------------------------------- tasks
  function throughput(task) {
    const value = task.stats && task.stats['task-stats'] && task.stats['task-stats'].throughput;
    return typeof value === 'number' ? `${value.toFixed(2)} points/s` : '–';
  }

  function tasksPage(main) {
    main.innerHTML = `<h1>Tasks</h1><div class="table-wrap"><table>
      <thead><tr><th scope="col">Task</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Executing</th><th scope="col" class="num">Throughput</th><th scope="col" class="num">Node errors</th><th scope="col">Error</th></tr></thead>
      <tbody id="task-rows"></tbody></table></div><p id="tasks-error" class="error" role="alert"></p>`;
    return {
      title: 'Tasks',
      interval: 3000,
      async refresh() {
        const fields = ['type', 'status', 'executing', 'error', 'stats', 'dbrps'].map((f) => `fields=${f}`).join('&');
        const data = await api('GET', `/kapacitor/v1/tasks?limit=10000&${fields}`);
        patch($('#task-rows'), (data.tasks || []).map((t) => {
          const errors = Object.values((t.stats && t.stats['node-stats']) || {}).reduce((n, s) => n + (s.errors || 0), 0);
          return `<tr data-task="${esc(t.id)}"><td><a href="#/tasks/${enc(t.id)}">${esc(t.id)}</a></td><td>${esc(t.type)}</td>
            <td>${badge(t.status)}</td><td>${t.executing ? 'yes' : 'no'}</td><td class="num">${throughput(t)}</td>
            <td class="num">${fmtNumber(errors)}</td><td class="wrap error">${esc(t.error || '')}</td></tr>`;
        }).join('') || '<tr><td colspan="7" class="muted">No tasks are defined.</td></tr>');
        $('#tasks-error').textContent = '';
      },
      showError(error) { $('#tasks-error').textContent = `Could not load: ${error.message}`; },
    };
  }

  // Graphviz DOT as weir writes it: `name [k="v" ...];` and `a -> b [k="v"];` statements.
  function parseDot(text) {
    const nodes = new Map();
    const edges = [];
    const graph = {};
    const unquote = (s) => (s.startsWith('"') ? s.slice(1, -1).replace(/\\"/g, '"') : s);
    const attrs = (s) => {
      const out = {};
      if (!s) return out;
      const re = /([A-Za-z_][\w.]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,\]]+)/g;
      let m;
      while ((m = re.exec(s))) out[m[1]] = unquote(m[2]);
      return out;
    };
    const node = (name) => {
      if (!nodes.has(name)) nodes.set(name, { name, attrs: {} });
      return nodes.get(name);
    };
    const open = text.indexOf('{');
    const body = open >= 0 ? text.slice(open + 1, text.lastIndexOf('}')) : '';
    const id = '("(?:[^"\\\\]|\\\\.)*"|[\\w.-]+)';
    const edgeRe = new RegExp(`^${id}\\s*->\\s*${id}\\s*(?:\\[(.*)\\])?$`);
    const nodeRe = new RegExp(`^${id}\\s*(?:\\[(.*)\\])?$`);
    for (const raw of body.split('\n')) {
      const line = raw.trim().replace(/;$/, '').trim();
      if (!line) continue;
      let m = line.match(/^graph\s*\[(.*)\]$/);
      if (m) { Object.assign(graph, attrs(m[1])); continue; }
      m = line.match(edgeRe);
      if (m) {
        const from = unquote(m[1]);
        const to = unquote(m[2]);
        node(from); node(to);
        edges.push({ from, to, attrs: attrs(m[3]) });
        continue;
      }
      m = line.match(nodeRe);
      if (m) Object.assign(node(unquote(m[1])).attrs, attrs(m[2]));
    }
    return { nodes: Array.from(nodes.values()), edges, graph };
  }

  // Layered drawing: a node's row is the longest path to it; within a row, nodes follow the
  // mean position of their parents.
  function layout(dot) {
    const parents = new Map(dot.nodes.map((n) => [n.name, []]));
    const children = new Map(dot.nodes.map((n) => [n.name, []]));
    for (const e of dot.edges) { parents.get(e.to).push(e.from); children.get(e.from).push(e.to); }
    const layer = new Map();
    const indegree = new Map(dot.nodes.map((n) => [n.name, parents.get(n.name).length]));
    const queue = dot.nodes.filter((n) => indegree.get(n.name) === 0).map((n) => n.name);
    for (const name of queue) layer.set(name, 0);
    while (queue.length) {
      const name = queue.shift();
      for (const child of children.get(name)) {
        layer.set(child, Math.max(layer.get(child) || 0, layer.get(name) + 1));
        indegree.set(child, indegree.get(child) - 1);
        if (indegree.get(child) === 0) queue.push(child);
      }
    }
    for (const n of dot.nodes) if (!layer.has(n.name)) layer.set(n.name, 0); // cycles: never in weir
    const rows = [];
    for (const n of dot.nodes) {
      const l = layer.get(n.name);
      (rows[l] = rows[l] || []).push(n.name);
    }
    const column = new Map();
    rows.forEach((row, index) => {
      if (index > 0) {
        const mean = (name) => {
          const ps = parents.get(name);
          return ps.length ? ps.reduce((s, p) => s + (column.get(p) || 0), 0) / ps.length : 0;
        };
        row.sort((a, b) => mean(a) - mean(b));
      }
      row.forEach((name, i) => column.set(name, i - (row.length - 1) / 2));
    });
    return { layer, column, rows };
  }

  const W = 190; const H = 64; const GAP_X = 36; const GAP_Y = 54;

  function graphSvg(taskId, dot, nodeStats) {
    if (!dot.nodes.length) return '<p class="muted">No graph: the task does not compile.</p>';
    const { layer, column, rows } = layout(dot);
    const widest = Math.max(...rows.map((r) => (r ? r.length : 0)));
    const width = widest * (W + GAP_X) + GAP_X;
    const height = rows.length * (H + GAP_Y) + GAP_Y / 2;
    const x = (name) => width / 2 + column.get(name) * (W + GAP_X) - W / 2;
    const y = (name) => GAP_Y / 2 + layer.get(name) * (H + GAP_Y);
    const stat = (node, key) => {
      const s = nodeStats[node.name];
      if (s && typeof s[key] === 'number') return s[key];
      const v = Number(node.attrs[key]);
      return Number.isFinite(v) ? v : 0;
    };
    const edges = dot.edges.map((e) => {
      const x1 = x(e.from) + W / 2; const y1 = y(e.from) + H;
      const x2 = x(e.to) + W / 2; const y2 = y(e.to);
      const mid = (y1 + y2) / 2;
      const label = e.attrs.processed !== undefined ? `<text class="elabel" x="${(x1 + x2) / 2 + 6}" y="${mid + 4}">${esc(e.attrs.processed)}</text>` : '';
      return `<path class="edge" d="M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2 - 2}" marker-end="url(#arrow)"/>${label}`;
    }).join('');
    const nodes = dot.nodes.map((n) => {
      const collected = stat(n, 'collected'); const emitted = stat(n, 'emitted'); const errors = stat(n, 'errors');
      const summary = `${n.name}: collected ${collected}, emitted ${emitted}, errors ${errors}`;
      return `<g class="gnode${errors ? ' err' : ''}" data-node="${esc(n.name)}" transform="translate(${x(n.name)},${y(n.name)})" role="listitem" aria-label="${esc(summary)}">
        <title>${esc(summary)}</title><rect width="${W}" height="${H}" rx="6"/>
        <text class="name" x="10" y="19">${esc(n.name)}</text>
        <text x="10" y="37" data-stat="collected">collected ${esc(collected.toLocaleString('en-US'))}</text>
        <text x="10" y="54" data-stat="emitted">emitted ${esc(emitted.toLocaleString('en-US'))} · errors ${esc(errors.toLocaleString('en-US'))}</text></g>`;
    }).join('');
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="graph-title">
      <title id="graph-title">Graph of task ${esc(taskId)}: ${dot.nodes.length} nodes, ${dot.edges.length} edges</title>
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>
      ${edges}<g role="list">${nodes}</g></svg>`;
  }

  // TICKscript, coloured by a small tokenizer (comments, strings, regexes after =~ and !~,
  // numbers and durations, keywords, chained nodes `|name`, properties `.name`, `@udf`).
  function highlight(source) {
    const re = /(\/\/[^\n]*)|('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")|((?:=~|!~)\s*\/(?:[^/\\\n]|\\.)+\/)|(\b\d+(?:\.\d+)?(?:ms|us|µs|u|s|m|h|d|w)?\b)|(\b(?:var|lambda|TRUE|FALSE|AND|OR|stream|batch|dbrp)\b)|(\|\s*[A-Za-z_]\w*)|(\.[A-Za-z_]\w*)|(@[A-Za-z_]\w*)/g;
    const classes = [null, 'comment', 'string', 'string', 'number', 'keyword', 'node', 'prop', 'ref'];
    let out = '';
    let last = 0;
    let m;
    while ((m = re.exec(source))) {
      out += esc(source.slice(last, m.index));
      const group = m.findIndex((g, i) => i > 0 && g !== undefined);
      out += `<span class="tk-${classes[group]}">${esc(m[0])}</span>`;
      last = m.index + m[0].length;
    }
    return out + esc(source.slice(last));
  }

  function taskPage(main, id) {
    const errors = [];
    main.innerHTML = `<p><a href="#/tasks">← Tasks</a></p><h1>Task <code>${esc(id)}</code></h1>
      <div id="task-head"></div>
      <div class="actions"><button type="button" data-action="toggle-task" data-key="toggle-task">…</button></div>
      <p class="result" role="status" id="task-result"></p>
      <h2>Graph</h2><div class="graph" id="task-graph"></div>
      <div class="two"><section><h2>Node counts</h2><div class="table-wrap" id="task-nodes"></div></section>
      <section><h2>Last errors</h2><div id="task-errors"></div></section></div>
      <h2>Script</h2><pre class="script" tabindex="0" aria-label="TICKscript"><code id="task-script"></code></pre>
      <p id="task-error" class="error" role="alert"></p>`;
    let status = null;
    return {
      title: `Task ${id}`,
      interval: 2000,
      async refresh() {
        const task = await api('GET', `/kapacitor/v1/tasks/${enc(id)}`);
        status = task.status;
        const stats = (task.stats && task.stats['node-stats']) || {};
        patch($('#task-head'), `<dl class="facts">
          <dt>Status</dt><dd>${badge(task.status)} ${task.executing ? '(executing)' : '(not executing)'}</dd>
          <dt>Type</dt><dd>${esc(task.type)}</dd>
          <dt>Reads</dt><dd>${(task.dbrps || []).map((d) => `<code>${esc(d.db)}.${esc(d.rp)}</code>`).join(', ') || '–'}</dd>
          <dt>Throughput</dt><dd>${throughput(task)}</dd>
          <dt>Modified</dt><dd>${timeEl(task.modified)}</dd></dl>`);
        const button = $('[data-action="toggle-task"]');
        button.textContent = task.status === 'enabled' ? 'Disable' : 'Enable';
        const dot = parseDot(task.dot || '');
        patch($('#task-graph'), graphSvg(id, dot, stats));
        patch($('#task-nodes'), `<table><thead><tr><th scope="col">Node</th><th scope="col" class="num">Collected</th><th scope="col" class="num">Emitted</th><th scope="col" class="num">Errors</th></tr></thead><tbody>
          ${dot.nodes.map((n) => { const s = stats[n.name] || {}; return `<tr data-node="${esc(n.name)}"><td>${esc(n.name)}</td><td class="num">${fmtNumber(s.collected ?? 0)}</td><td class="num">${fmtNumber(s.emitted ?? 0)}</td><td class="num">${fmtNumber(s.errors ?? 0)}</td></tr>`; }).join('')}</tbody></table>`);
        if (task.error && (!errors.length || errors[0].message !== task.error)) errors.unshift({ message: task.error, when: new Date().toISOString() });
        errors.splice(10);
        const failing = Object.entries(stats).filter(([, s]) => s.errors).map(([n, s]) => `${n}: ${s.errors} error${s.errors === 1 ? '' : 's'}`);
        patch($('#task-errors'), `${errors.length ? `<ul class="failures">${errors.map((e) => `<li>${timeEl(e.when)} ${esc(e.message)}</li>`).join('')}</ul>` : '<p class="muted">No task error reported.</p>'}
          ${failing.length ? `<p>Nodes with errors: ${failing.map(esc).join('; ')}</p>` : ''}`);
        patch($('#task-script'), highlight(task.script || ''));
        $('#task-error').textContent = '';
      },
      showError(error) { $('#task-error').textContent = `Could not load: ${error.message}`; },
      actions: {
        'toggle-task': async (button) => {
          button.disabled = true;
          const wanted = status === 'enabled' ? 'disabled' : 'enabled';
          try {
            await api('PATCH', `/kapacitor/v1/tasks/${enc(id)}`, { status: wanted });
            $('#task-result').textContent = `Task ${id} ${wanted}.`;
            announce(`Task ${id} ${wanted}.`);
          } catch (error) {
            $('#task-result').textContent = `Failed: ${error.message}`;
          } finally {
            button.disabled = false;
          }
          await refreshNow();
        },
      },
    };
  }

  // ---------------------------------------------------------------- CIs
  const ciLink = (id, text) => `<a href="#/cis/${enc(id)}">${esc(text || id)}</a>`;

  function cisPage(main, _arg, params) {
    main.innerHTML = `<h1>Configuration items</h1>
      <form class="filters" id="ci-filters" role="search">
        <label>Kind <select id="ci-kind"><option value="">All kinds</option></select></label>
        <label>Name <input id="ci-name" type="search" value="${esc(params.get('name') || '')}" placeholder="default/web-0"></label>
        <label>Attribute <input id="ci-attribute" type="search" value="${esc(params.get('attribute') || '')}" placeholder="pod_phase=Running"></label>
        <label>Address <input id="ci-address" type="search" value="${esc(params.get('address') || '')}" placeholder="10.2.0.7"></label>
        <button type="submit">Search</button>
      </form>
      <p id="ci-summary" class="muted" aria-live="polite"></p>
      <div class="table-wrap"><table><thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Source</th><th scope="col">Addresses</th><th scope="col">Changed</th><th scope="col">Seen</th></tr></thead>
      <tbody id="ci-rows"></tbody></table></div><p id="cis-error" class="error" role="alert"></p>`;
    const wantedKind = params.get('kind') || '';
    let debounce = null;
    const changed = () => { clearTimeout(debounce); debounce = setTimeout(refreshNow, 250); };
    for (const el of $$('#ci-filters input')) el.addEventListener('input', changed);
    $('#ci-kind').addEventListener('change', changed);
    $('#ci-filters').addEventListener('submit', (e) => { e.preventDefault(); refreshNow(); });
    const known = new Set();
    return {
      title: 'CIs',
      interval: 10000,
      async refresh() {
        const query = new URLSearchParams({
          kind: $('#ci-kind').value || wantedKind, name: $('#ci-name').value,
          attribute: $('#ci-attribute').value, address: $('#ci-address').value,
        });
        const data = await api('GET', `/weir/v1/console/cis?${query}`);
        const select = $('#ci-kind');
        for (const kind of Object.keys(data.kinds || {})) {
          if (!known.has(kind)) { known.add(kind); select.add(new Option(kind, kind)); }
        }
        if (wantedKind && !select.value && known.has(wantedKind)) select.value = wantedKind;
        patch($('#ci-rows'), (data.cis || []).map((c) => `<tr data-ci="${esc(c.id)}"><td>${esc(c.key.kind)}</td><td>${ciLink(c.id, c.key.key)}</td>
          <td>${esc(c.key.source)}</td><td class="wrap">${(c.addresses || []).map(esc).join(', ')}</td>
          <td>${timeEl(c.updated)}</td><td>${timeEl(c.seen)}</td></tr>`).join('')
          || '<tr><td colspan="6" class="muted">No item matches.</td></tr>');
        $('#ci-summary').textContent = `${data.total.toLocaleString('en-US')} matching${data.total > (data.cis || []).length ? `, first ${(data.cis || []).length} shown` : ''}`;
        $('#cis-error').textContent = '';
      },
      showError(error) { $('#cis-error').textContent = `Could not load: ${error.message}`; },
    };
  }

  // The item in the middle, what it points to on the right, what points to it on the left;
  // every other item is a link to its own page.
  function relationsSvg(item) {
    const right = [];
    for (const rel of item.outgoing || []) {
      const targets = rel.targets && rel.targets.length ? rel.targets : [null];
      for (const target of targets) right.push({ kind: rel.kind, id: target, label: `${rel.target_kind}:${rel.target_key}` });
    }
    const left = (item.incoming || []).map((rel) => ({ kind: rel.kind, id: rel.from, label: rel.from.replace(/@.*$/, '') }));
    const rows = Math.max(right.length, left.length, 1);
    const bw = 230; const bh = 34; const gap = 14;
    const width = bw * 3 + 200; const height = rows * (bh + gap) + gap;
    const cx = bw + 100; const cy = height / 2 - bh / 2;
    const box = (x, y, label, id, extra) => {
      const text = label.length > 34 ? `${label.slice(0, 33)}…` : label;
      const inner = `<rect x="${x}" y="${y}" width="${bw}" height="${bh}" rx="6"/><text x="${x + 8}" y="${y + 21}">${esc(text)}</text><title>${esc(id || label)}</title>`;
      return id ? `<a href="#/cis/${enc(id)}" class="gnode${extra}" data-ci-link="${esc(id)}">${inner}</a>` : `<g class="gnode${extra}">${inner}</g>`;
    };
    let out = box(cx, cy, `${item.kind}:${item.key}`, null, ' self');
    const place = (list, x, toRight) => list.forEach((n, i) => {
      const y = gap + i * (bh + gap) + (height - gap - list.length * (bh + gap)) / 2;
      const [x1, y1, x2, y2] = toRight ? [cx + bw, cy + bh / 2, x, y + bh / 2] : [x + bw, y + bh / 2, cx, cy + bh / 2];
      out += `<path class="edge" d="M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2 - 2},${y2}" marker-end="url(#rarrow)"/>`;
      out += `<text class="elabel" x="${(x1 + x2) / 2 - 30}" y="${(y1 + y2) / 2 - 4}">${esc(n.kind)}</text>`;
      out += box(x, y, n.label, n.id, n.id ? '' : ' unknown');
    });
    place(right, cx + bw + 100, true);
    place(left, 0, false);
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="group" aria-label="Relationships of ${esc(item.kind)} ${esc(item.key)}">
      <defs><marker id="rarrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>${out}</svg>`;
  }

  function diffHtml(diff) {
    const old = diff.old === null || diff.old === undefined ? '' : `<del>${esc(diff.old)}</del>`;
    const now = diff.new === null || diff.new === undefined ? '' : `<ins>${esc(diff.new)}</ins>`;
    const arrow = old && now ? ' → ' : '';
    return `<div class="diff" data-attribute="${esc(diff.attribute)}"><code>${esc(diff.attribute)}</code>: ${old}${arrow}${now}${!old && !now ? '<span class="muted">(empty)</span>' : ''}</div>`;
  }

  function ciPage(main, id) {
    main.innerHTML = `<p><a href="#/cis">← Configuration items</a></p><div id="ci-detail"></div><p id="ci-error" class="error" role="alert"></p>`;
    return {
      title: `CI ${id}`,
      interval: 5000,
      async refresh() {
        const [item, history] = await Promise.all([
          api('GET', `/weir/v1/cis/${enc(id)}`),
          api('GET', `/weir/v1/changes?ci=${enc(id)}&limit=100`),
        ]);
        const kind = item.key.kind; const key = item.key.key;
        const attributes = Object.entries(item.config || {});
        const metrics = Object.entries(item.metrics || {});
        const outgoing = (item.outgoing || []).map((rel) => `<li>${esc(rel.kind)} → ${rel.targets && rel.targets.length ? rel.targets.map((t) => ciLink(t)).join(', ') : `${esc(rel.target_kind)}:${esc(rel.target_key)} <span class="muted">(not known here)</span>`}</li>`).join('');
        const incoming = (item.incoming || []).map((rel) => `<li>${ciLink(rel.from)} ${esc(rel.kind)} → this</li>`).join('');
        const changes = (history.changes || []).map((c) => `<li data-change="${esc(c.change)}">${timeEl(c.time)} ${badge(c.change)}${(c.diffs || []).map(diffHtml).join('')}</li>`).join('');
        patch($('#ci-detail'), `<h1>${esc(kind)} <code>${esc(key)}</code></h1>
          <dl class="facts"><dt>Source</dt><dd>${esc(item.key.source)}</dd><dt>Id</dt><dd><code>${esc(item.id)}</code></dd>
            <dt>First seen</dt><dd>${timeEl(item.created)}</dd><dt>Last change</dt><dd>${timeEl(item.updated)}</dd><dt>Last seen</dt><dd>${timeEl(item.seen)}</dd>
            <dt>Addresses</dt><dd>${(item.addresses || []).map((a) => `<a href="#/cis?address=${enc(a)}">${esc(a)}</a>`).join(', ') || '–'}</dd></dl>
          <div class="two"><section><h2>Attributes</h2><div class="table-wrap"><table><thead><tr><th scope="col">Attribute</th><th scope="col">Value</th></tr></thead><tbody>
            ${attributes.map(([k, v]) => `<tr data-attribute="${esc(k)}"><td><code>${esc(k)}</code></td><td class="wrap">${esc(v)}</td></tr>`).join('') || '<tr><td colspan="2" class="muted">none</td></tr>'}</tbody></table></div>
            ${metrics.length ? `<h3>Latest metrics</h3><table><tbody>${metrics.map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td class="num">${esc(v)}</td></tr>`).join('')}</tbody></table>` : ''}</section>
          <section><h2>Change history</h2>${changes ? `<ol class="failures" id="ci-changes">${changes}</ol>` : '<p class="muted">No change recorded.</p>'}</section></div>
          <h2>Relationships</h2>
          <div class="graph">${relationsSvg({ kind, key, outgoing: item.outgoing, incoming: item.incoming })}</div>
          <div class="two rels"><section><h3>This item</h3><ul>${outgoing || '<li class="muted">points to nothing</li>'}</ul></section>
          <section><h3>Pointing here</h3><ul>${incoming || '<li class="muted">nothing</li>'}</ul></section></div>`);
        $('#ci-error').textContent = '';
      },
      showError(error) { $('#ci-error').textContent = `Could not load ${id}: ${error.message}`; },
    };
  }

  // ---------------------------------------------------------------- sinks and config
  function sinksPage(main) {
    main.innerHTML = `<h1>Sinks and config</h1><h2>Sinks</h2><div class="table-wrap" id="sink-table"></div>
      <h2>Config</h2><div id="config-status"></div><p id="sinks-error" class="error" role="alert"></p>`;
    return {
      title: 'Sinks and config',
      interval: 3000,
      async refresh() {
        const [sinks, status] = await Promise.all([api('GET', '/weir/v1/sinks'), api('GET', '/weir/v1/config/status')]);
        patch($('#sink-table'), `<table><thead><tr><th scope="col">Sink</th><th scope="col">Buffer</th><th scope="col" class="num">Queued points</th><th scope="col" class="num">Queued bytes</th><th scope="col">Oldest queued</th><th scope="col" class="num">Written</th><th scope="col" class="num">Dropped</th><th scope="col" class="num">Retried</th><th scope="col">Last error</th></tr></thead><tbody>
          ${(sinks.sinks || []).map((s) => `<tr data-sink="${esc(s.name)}"><td>${esc(s.name)} <span class="muted">${esc(s.kind)}${s.default ? ', default' : ''}</span></td><td>${esc(s.buffer)}</td>
            <td class="num">${fmtNumber(s.queued_points)}</td><td class="num">${fmtNumber(s.queued_bytes)}</td><td>${s.oldest_queued_age_seconds == null ? '–' : seconds(s.oldest_queued_age_seconds)}</td>
            <td class="num">${fmtNumber(s.written)}</td><td class="num">${fmtNumber(s.dropped)}</td><td class="num">${fmtNumber(s.retried)}</td><td class="wrap error">${esc(s.last_error || '')}</td></tr>`).join('')
          || '<tr><td colspan="9" class="muted">No sinks are configured.</td></tr>'}</tbody></table>`);
        const rejected = status.last_rejected || (status.state === 'rejected'
          ? { at: status.at, reason: status.reason, source: status.source } : null);
        patch($('#config-status'), `<dl class="facts">
          <dt>Running revision</dt><dd data-field="running-revision">${fmtNumber(status.running_revision)}</dd>
          <dt>From</dt><dd><code>${esc(status.source)}</code></dd>
          <dt>Last load</dt><dd>${badge(status.state)} ${timeEl(status.at)}</dd>
          ${rejected ? `<dt>Last rejected</dt><dd class="error" data-field="rejected-reason">${timeEl(rejected.at)} <code>${esc(rejected.source)}</code><pre>${esc(rejected.reason)}</pre><span class="muted">${status.state === 'rejected' ? `revision ${fmtNumber(status.running_revision)} keeps running` : `revision ${fmtNumber(status.running_revision)} was applied since`}</span></dd>`
            : '<dt>Last rejected</dt><dd class="muted">none since weir started</dd>'}
          <dt>Warnings</dt><dd>${(status.warnings || []).map(esc).join('<br>') || '–'}</dd></dl>`);
        $('#sinks-error').textContent = '';
      },
      showError(error) { $('#sinks-error').textContent = `Could not load: ${error.message}`; },
    };
  }

  const PAGES = {
    collectors: collectorsPage,
    targets: targetsPage,
    tasks: (main, arg) => (arg ? taskPage(main, arg) : tasksPage(main)),
    cis: (main, arg, params) => (arg ? ciPage(main, arg) : cisPage(main, arg, params)),
    sinks: sinksPage,
  };

  window.addEventListener('hashchange', () => { if ($('#login').hidden) route(); });
  document.addEventListener('DOMContentLoaded', () => {
    setupLogin();
    route();
  });
})();
