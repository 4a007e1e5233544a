// oxmon web console: plain JavaScript, no framework, no build step.
// Talks to the server only through the REST API under /v1 (session cookie +
// X-CSRF-Token). Charts are uPlot. Every text comes from the message catalogs.
(function () {
  'use strict';

  // ---- state shared with tests (read-only for them) ----------------------
  const oxmon = (window.oxmon = { requests: [], charts: [], missing: new Set(), page: null, ready: false });

  // ---- small DOM helper ---------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // ---- i18n ---------------------------------------------------------------
  const catalogs = {};
  let lang = 'en';

  function t(key, vars) {
    let s = catalogs[lang] && catalogs[lang][key];
    if (s === undefined) {
      oxmon.missing.add(lang + ':' + key);
      s = (catalogs.en && catalogs.en[key]) || key;
    }
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split('{' + k + '}').join(String(v));
    return s;
  }

  async function loadCatalog(l) {
    if (catalogs[l]) return;
    const meta = document.querySelector('meta[name="oxmon-catalog-' + l + '"]');
    const r = await fetch(meta.content, { credentials: 'same-origin' });
    catalogs[l] = await r.json();
  }

  function initialLang() {
    const saved = localStorage.getItem('oxmon.lang');
    if (saved === 'en' || saved === 'zh') return saved;
    return (navigator.languages || [navigator.language || 'en']).some((l) => /^zh\b/i.test(l)) ? 'zh' : 'en';
  }

  async function setLang(l) {
    await loadCatalog(l);
    lang = l;
    localStorage.setItem('oxmon.lang', l);
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
    render();
  }

  // ---- theme --------------------------------------------------------------
  function currentTheme() {
    const saved = localStorage.getItem('oxmon.theme');
    if (saved === 'light' || saved === 'dark') return saved;
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }
  function applyTheme() {
    document.documentElement.dataset.theme = currentTheme();
  }

  // ---- API ----------------------------------------------------------------
  function cookie(name) {
    const m = document.cookie.split(';').map((c) => c.trim().split('=')).find(([k]) => k === name);
    return m ? decodeURIComponent(m.slice(1).join('=')) : '';
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    oxmon.requests.push(method + ' ' + path);
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET') headers['X-CSRF-Token'] = cookie('oxmon_csrf');
    const r = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try {
      json = await r.json();
    } catch (_) {
      json = null;
    }
    if (r.status === 401 && !path.startsWith('/v1/auth/session')) {
      toLogin();
      throw new ApiError(401, (json && json.err_msg) || 'unauthorized');
    }
    if (!r.ok) throw new ApiError(r.status, (json && json.err_msg) || r.statusText);
    return json ? json.data : null;
  }

  function toLogin() {
    if (location.pathname !== '/login') {
      const next = location.pathname + location.search;
      navigate('/login' + (next && next !== '/' ? '?next=' + encodeURIComponent(next) : ''), true);
    }
  }

  // ---- formatting -----------------------------------------------------------
  const num = (v, d = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : Number(v).toFixed(d));
  const pct = (v) => (v === undefined || v === null ? '–' : num(v) + ' %');
  function bytes(v) {
    if (v === undefined || v === null) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < u.length - 1) {
      v /= 1024;
      i++;
    }
    return num(v, i ? 1 : 0) + ' ' + u[i];
  }
  const rate = (v) => (v === undefined || v === null ? '–' : bytes(v) + '/s');
  function duration(secs) {
    if (secs === undefined || secs === null) return '–';
    const d = Math.floor(secs / 86400);
    const hh = Math.floor((secs % 86400) / 3600);
    const mm = Math.floor((secs % 3600) / 60);
    return d ? t('fmt.days_hours', { d, h: hh }) : t('fmt.hours_minutes', { h: hh, m: mm });
  }
  function when(iso) {
    if (!iso) return t('common.never');
    const d = new Date(iso);
    const ago = Math.round((Date.now() - d.getTime()) / 1000);
    if (ago < 90) return t('fmt.seconds_ago', { n: Math.max(0, ago) });
    if (ago < 5400) return t('fmt.minutes_ago', { n: Math.round(ago / 60) });
    return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en');
  }
  const stamp = (iso) => (iso ? new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en') : '–');
  const statusText = (s) => t('status.' + s);
  const alertStatus = (n) => t(n === 1 ? 'alert.status_open' : n === 2 ? 'alert.status_acknowledged' : 'alert.status_resolved');

  // ---- routing --------------------------------------------------------------
  let timers = [];
  function clearTimers() {
    timers.forEach(clearInterval);
    timers = [];
  }
  function every(ms, f) {
    timers.push(setInterval(f, ms));
  }

  function navigate(path, replace) {
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    render();
  }

  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[data-link]');
    if (a && !e.ctrlKey && !e.metaKey && !e.shiftKey && e.button === 0) {
      e.preventDefault();
      navigate(a.getAttribute('href'));
    }
  });
  window.addEventListener('popstate', render);

  let session = null;

  function render() {
    clearTimers();
    oxmon.charts.forEach((c) => c.u && c.u.destroy());
    oxmon.charts = [];
    oxmon.ready = false;
    const path = location.pathname;
    const app = document.getElementById('app');
    app.replaceChildren();
    if (path === '/login') {
      oxmon.page = 'login';
      app.append(loginPage());
      return;
    }
    if (!session) {
      // Who is logged in; a 401 sends the browser to the login page.
      api('GET', '/v1/auth/session')
        .then((s) => {
          session = s;
          render();
        })
        .catch(() => toLogin());
      return;
    }
    const main = h('main', { id: 'main', tabindex: '-1' });
    app.append(header(path), main);
    let m;
    if (path === '/') {
      oxmon.page = 'fleet';
      fleetPage(main);
    } else if ((m = path.match(/^\/hosts\/([^/]+)$/))) {
      oxmon.page = 'host';
      hostPage(main, decodeURIComponent(m[1]));
    } else if (path === '/alerts') {
      oxmon.page = 'alerts';
      alertsPage(main);
    } else {
      oxmon.page = 'notfound';
      main.append(h('h1', { text: t('common.not_found') }));
      oxmon.ready = true;
    }
  }

  function header(path) {
    const link = (href, key) =>
      h('a', { href, 'data-link': true, 'aria-current': path === href ? 'page' : null, text: t(key) });
    const langSel = h(
      'select',
      { id: 'lang', 'aria-label': t('nav.language'), onchange: (e) => setLang(e.target.value) },
      h('option', { value: 'en', selected: lang === 'en', text: 'English' }),
      h('option', { value: 'zh', selected: lang === 'zh', text: '中文' }),
    );
    const themeBtn = h('button', {
      type: 'button',
      id: 'theme',
      class: 'ghost',
      text: currentTheme() === 'dark' ? t('nav.theme_light') : t('nav.theme_dark'),
      onclick: () => {
        localStorage.setItem('oxmon.theme', currentTheme() === 'dark' ? 'light' : 'dark');
        applyTheme();
        render();
      },
    });
    const logout = h('button', {
      type: 'button',
      id: 'logout',
      class: 'ghost',
      text: t('nav.logout'),
      onclick: async () => {
        try {
          await api('DELETE', '/v1/auth/session');
        } finally {
          session = null;
          navigate('/login');
        }
      },
    });
    return h(
      'header',
      { class: 'top' },
      h('a', { href: '#main', class: 'skip', text: t('nav.skip') }),
      h('a', { href: '/', 'data-link': true, class: 'brand', text: 'oxmon' }),
      h('nav', { 'aria-label': t('nav.main') }, link('/', 'nav.fleet'), link('/alerts', 'nav.alerts')),
      h('div', { class: 'tools' }, session && session.username ? h('span', { class: 'user', text: session.username }) : null, langSel, themeBtn, logout),
    );
  }

  // ---- login ----------------------------------------------------------------
  function loginPage() {
    const err = h('p', { class: 'error', role: 'alert', id: 'login-error' });
    const form = h(
      'form',
      {
        class: 'login card',
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = '';
          const fd = new FormData(form);
          try {
            session = await api('POST', '/v1/auth/session', { username: fd.get('username'), password: fd.get('password') });
            const next = new URLSearchParams(location.search).get('next');
            navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
          } catch (ex) {
            err.textContent = ex.status === 401 ? t('login.invalid') : ex.message;
          }
        },
      },
      h('h1', { text: t('login.title') }),
      h('label', { for: 'username', text: t('login.username') }),
      h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autofocus: true }),
      h('label', { for: 'password', text: t('login.password') }),
      h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
      err,
      h('button', { type: 'submit', id: 'login-submit', text: t('login.submit') }),
      h(
        'div',
        { class: 'login-tools' },
        h(
          'select',
          { 'aria-label': t('nav.language'), onchange: (e) => setLang(e.target.value) },
          h('option', { value: 'en', selected: lang === 'en', text: 'English' }),
          h('option', { value: 'zh', selected: lang === 'zh', text: '中文' }),
        ),
      ),
    );
    oxmon.ready = true;
    return h('main', { id: 'main', class: 'center' }, form);
  }

  // ---- fleet ----------------------------------------------------------------
  const PAGE_SIZE = 50;
  const fleet = { filter: '', sort: 'agent_id', dir: 1, page: 0 };

  function pattern(s) {
    if (!s) return () => true;
    if (/[*?]/.test(s)) {
      const re = new RegExp('^' + s.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
      return (id) => re.test(id);
    }
    const low = s.toLowerCase();
    return (id) => id.toLowerCase().includes(low);
  }

  function summarize(latest) {
    const out = { cpu: null, mem: null, disk: null, diskMount: null, load: null, rx: 0, tx: 0, net: false };
    for (const m of latest) {
      if (m.metric_name === 'cpu.usage') out.cpu = m.value;
      else if (m.metric_name === 'memory.used_percent') out.mem = m.value;
      else if (m.metric_name === 'disk.used_percent' && (out.disk === null || m.value > out.disk)) {
        out.disk = m.value;
        out.diskMount = m.labels.mount;
      } else if (m.metric_name === 'load.load_1') out.load = m.value;
      else if (m.metric_name === 'network.bytes_recv') (out.rx += m.value), (out.net = true);
      else if (m.metric_name === 'network.bytes_sent') (out.tx += m.value), (out.net = true);
    }
    return out;
  }

  function sparkline(values, label) {
    const w = 100;
    const hgt = 24;
    const c = h('canvas', { width: w, height: hgt, class: 'spark', role: 'img', 'aria-label': label });
    c.dataset.points = String(values.length);
    const ctx = c.getContext('2d');
    if (values.length === 1) values = [values[0], values[0]];
    if (values.length > 1 && ctx) {
      const max = Math.max(100, ...values);
      ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2563eb';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      values.forEach((v, i) => {
        const x = (i / (values.length - 1)) * (w - 2) + 1;
        const y = hgt - 1 - (v / max) * (hgt - 2);
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      });
      ctx.stroke();
    }
    return c;
  }

  function fleetPage(main) {
    const list = h('div', { id: 'fleet-list' });
    const count = h('p', { class: 'muted', id: 'fleet-count', 'aria-live': 'polite' });
    const filter = h('input', {
      id: 'fleet-filter',
      type: 'search',
      value: fleet.filter,
      placeholder: t('fleet.filter_placeholder'),
      oninput: (e) => {
        fleet.filter = e.target.value;
        fleet.page = 0;
        draw();
      },
    });
    main.append(
      h('h1', { text: t('fleet.title') }),
      h('div', { class: 'toolbar' }, h('label', { for: 'fleet-filter', text: t('fleet.filter') }), filter),
      count,
      list,
    );
    let agents = [];
    let alertsBy = {};
    const details = {};

    async function load() {
      try {
        const all = [];
        for (let offset = 0; ; offset += 1000) {
          const page = await api('GET', '/v1/agents?limit=1000&offset=' + offset);
          all.push(...page);
          if (page.length < 1000) break;
        }
        agents = all;
        const active = await api('GET', '/v1/alerts/active?limit=1000');
        alertsBy = {};
        for (const a of active) alertsBy[a.agent_id] = (alertsBy[a.agent_id] || 0) + 1;
        draw();
        await loadDetails();
      } catch (e) {
        if (e.status !== 401) count.textContent = t('common.load_failed', { error: e.message });
      }
    }

    function visible() {
      const match = pattern(fleet.filter.trim());
      const rank = { active: 0, stale: 1, offline: 2, unknown: 3 };
      const key = {
        agent_id: (a) => a.agent_id,
        status: (a) => rank[a.status] ?? 9,
        last_seen: (a) => (a.last_seen ? -Date.parse(a.last_seen) : Infinity),
        alerts: (a) => -(alertsBy[a.agent_id] || 0),
      }[fleet.sort];
      return agents
        .filter((a) => match(a.agent_id))
        .sort((x, y) => {
          const a = key(x);
          const b = key(y);
          return (a < b ? -1 : a > b ? 1 : x.agent_id < y.agent_id ? -1 : 1) * fleet.dir;
        });
    }

    async function loadDetails() {
      const rows = visible().slice(fleet.page * PAGE_SIZE, (fleet.page + 1) * PAGE_SIZE);
      const from = new Date(Date.now() - 3600e3).toISOString();
      await Promise.all(
        rows.map(async (a) => {
          if (a.status === 'unknown') return;
          const id = encodeURIComponent(a.agent_id);
          try {
            const [latest, spark] = await Promise.all([
              api('GET', '/v1/agents/' + id + '/latest'),
              api('GET', '/v1/metrics/downsample?agent_id=' + id + '&metric_name=cpu.usage&max_points=60&timestamp__gte=' + encodeURIComponent(from)),
            ]);
            details[a.agent_id] = { ...summarize(latest), spark: spark.length ? spark[0].points.map((p) => p[2]) : [] };
          } catch (_) {
            /* shown as dashes */
          }
        }),
      );
      draw();
      oxmon.ready = true;
    }

    function sortButton(field, key) {
      const active = fleet.sort === field;
      return h(
        'th',
        { scope: 'col', 'aria-sort': active ? (fleet.dir > 0 ? 'ascending' : 'descending') : null },
        h('button', {
          type: 'button',
          class: 'sort',
          text: t(key) + (active ? (fleet.dir > 0 ? ' ▲' : ' ▼') : ''),
          onclick: () => {
            fleet.dir = fleet.sort === field ? -fleet.dir : 1;
            fleet.sort = field;
            draw();
            loadDetails();
          },
        }),
      );
    }

    function draw() {
      const rows = visible();
      const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
      fleet.page = Math.min(fleet.page, pages - 1);
      const shown = rows.slice(fleet.page * PAGE_SIZE, (fleet.page + 1) * PAGE_SIZE);
      count.textContent = t('fleet.count', { shown: rows.length, total: agents.length });
      const table = h(
        'table',
        { class: 'fleet' },
        h('caption', { class: 'sr-only', text: t('fleet.title') }),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            sortButton('agent_id', 'fleet.col_name'),
            sortButton('status', 'fleet.col_status'),
            sortButton('last_seen', 'fleet.col_last_seen'),
            h('th', { scope: 'col', text: t('fleet.col_cpu') }),
            h('th', { scope: 'col', text: t('fleet.col_memory') }),
            h('th', { scope: 'col', text: t('fleet.col_disk') }),
            h('th', { scope: 'col', text: t('fleet.col_load') }),
            h('th', { scope: 'col', text: t('fleet.col_network') }),
            sortButton('alerts', 'fleet.col_alerts'),
            h('th', { scope: 'col', text: t('fleet.col_cpu_1h') }),
          ),
        ),
        h(
          'tbody',
          {},
          shown.map((a) => {
            const d = details[a.agent_id] || {};
            const n = alertsBy[a.agent_id] || 0;
            return h(
              'tr',
              { 'data-agent': a.agent_id },
              h('th', { scope: 'row', 'data-label': t('fleet.col_name') }, h('a', { href: '/hosts/' + encodeURIComponent(a.agent_id), 'data-link': true, text: a.agent_id })),
              h('td', { 'data-label': t('fleet.col_status') }, h('span', { class: 'badge ' + a.status, text: statusText(a.status) })),
              h('td', { 'data-label': t('fleet.col_last_seen'), text: when(a.last_seen) }),
              h('td', { 'data-label': t('fleet.col_cpu'), class: 'num cpu', text: pct(d.cpu) }),
              h('td', { 'data-label': t('fleet.col_memory'), class: 'num', text: pct(d.mem) }),
              h('td', { 'data-label': t('fleet.col_disk'), class: 'num', title: d.diskMount || null, text: pct(d.disk) }),
              h('td', { 'data-label': t('fleet.col_load'), class: 'num', text: num(d.load, 2) }),
              h('td', { 'data-label': t('fleet.col_network'), class: 'num', text: d.net ? '↓' + rate(d.rx) + ' ↑' + rate(d.tx) : '–' }),
              h('td', { 'data-label': t('fleet.col_alerts'), class: 'num' }, n ? h('a', { href: '/alerts', 'data-link': true, class: 'badge critical', text: String(n) }) : '0'),
              h('td', { 'data-label': t('fleet.col_cpu_1h') }, sparkline(d.spark || [], t('fleet.col_cpu_1h') + ' ' + a.agent_id)),
            );
          }),
        ),
      );
      const pager = h(
        'nav',
        { class: 'pager', 'aria-label': t('fleet.pages') },
        h('button', { type: 'button', disabled: fleet.page === 0, text: t('common.previous'), onclick: () => { fleet.page--; draw(); loadDetails(); } }),
        h('span', { text: t('fleet.page_of', { page: fleet.page + 1, pages }) }),
        h('button', { type: 'button', disabled: fleet.page >= pages - 1, text: t('common.next'), onclick: () => { fleet.page++; draw(); loadDetails(); } }),
      );
      list.replaceChildren(h('div', { class: 'table-wrap' }, table), pages > 1 ? pager : '');
    }

    load();
    every(10000, load);
  }

  // ---- host -----------------------------------------------------------------
  const GROUPS = [
    ['cpu', ['cpu.usage', 'cpu.core_usage']],
    ['memory', ['memory.used_percent', 'memory.swap_percent', 'memory.used', 'memory.available']],
    ['disk', ['disk.used_percent', 'disk.inodes_used_percent', 'disk.read_bytes', 'disk.write_bytes', 'disk.read_ops', 'disk.write_ops', 'disk.io_util']],
    ['network', ['network.bytes_recv', 'network.bytes_sent', 'network.packets_recv', 'network.packets_sent', 'network.tcp_connections']],
    ['load', ['load.load_1', 'load.load_5', 'load.load_15', 'load.uptime']],
    ['system', ['system.processes', 'system.context_switches', 'sensors.temperature']],
  ];
  const UNITS = {
    'cpu.usage': pct, 'cpu.core_usage': pct, 'memory.used_percent': pct, 'memory.swap_percent': pct,
    'disk.used_percent': pct, 'disk.inodes_used_percent': pct, 'disk.io_util': pct,
    'memory.used': bytes, 'memory.available': bytes, 'disk.read_bytes': rate, 'disk.write_bytes': rate,
    'network.bytes_recv': rate, 'network.bytes_sent': rate, 'load.uptime': duration,
  };
  const RANGES = [['1h', 3600e3], ['6h', 6 * 3600e3], ['24h', 24 * 3600e3], ['7d', 7 * 86400e3]];
  const RAW_LIMIT_MS = 6 * 3600e3;
  const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
  const host = { range: '1h', from: null, to: null };

  function seriesLabel(labels) {
    const vals = Object.entries(labels || {}).map(([k, v]) => (k === 'core' ? t('host.core', { n: v }) : v));
    return vals.length ? vals.join(' ') : t('host.total');
  }

  function hostPage(main, id) {
    const eid = encodeURIComponent(id);
    const title = h('h1', {}, id, ' ', h('span', { class: 'badge', id: 'host-status' }));
    const rangeBar = h('div', { class: 'ranges', role: 'group', 'aria-label': t('host.range') });
    const customFrom = h('input', { type: 'datetime-local', id: 'custom-from' });
    const customTo = h('input', { type: 'datetime-local', id: 'custom-to' });
    const custom = h(
      'form',
      {
        class: 'custom',
        onsubmit: (e) => {
          e.preventDefault();
          const f = Date.parse(customFrom.value);
          const to = Date.parse(customTo.value);
          if (Number.isFinite(f) && Number.isFinite(to) && f < to) {
            host.range = 'custom';
            host.from = f;
            host.to = to;
            drawRanges();
            loadCharts();
          }
        },
      },
      h('label', { for: 'custom-from', text: t('host.from') }), customFrom,
      h('label', { for: 'custom-to', text: t('host.to') }), customTo,
      h('button', { type: 'submit', text: t('host.apply') }),
    );
    const chartsBox = h('div', { id: 'charts' });
    const alertBox = h('section', { id: 'host-alerts', 'aria-labelledby': 'host-alerts-h' });
    main.append(
      h('p', {}, h('a', { href: '/', 'data-link': true, text: '← ' + t('nav.fleet') })),
      title,
      h('div', { class: 'toolbar' }, rangeBar, custom),
      alertBox,
      chartsBox,
    );

    function drawRanges() {
      rangeBar.replaceChildren(
        ...RANGES.map(([name]) =>
          h('button', {
            type: 'button',
            class: 'range',
            'data-range': name,
            'aria-pressed': host.range === name ? 'true' : 'false',
            text: t('host.range_' + name),
            onclick: () => {
              host.range = name;
              host.from = host.to = null;
              drawRanges();
              loadCharts();
            },
          }),
        ),
      );
    }

    function window_() {
      if (host.range === 'custom') return [host.from, host.to];
      const span = RANGES.find(([n]) => n === host.range)[1];
      const now = Date.now();
      return [now - span, now];
    }

    let metrics = [];
    async function discover() {
      const latest = await api('GET', '/v1/agents/' + eid + '/latest');
      metrics = [...new Set(latest.map((m) => m.metric_name))];
      const agents = await api('GET', '/v1/agents?limit=1000');
      const me = agents.find((a) => a.agent_id === id);
      const badge = document.getElementById('host-status');
      if (me && badge) {
        badge.className = 'badge ' + me.status;
        badge.textContent = statusText(me.status);
      }
    }

    async function fetchSeries(metric, from, to, width) {
      const q = '?agent_id=' + eid + '&metric_name=' + encodeURIComponent(metric) +
        '&timestamp__gte=' + encodeURIComponent(new Date(from).toISOString()) +
        '&timestamp__lte=' + encodeURIComponent(new Date(to).toISOString());
      if (to - from > RAW_LIMIT_MS) {
        const data = await api('GET', '/v1/metrics/downsample' + q + '&max_points=' + Math.max(50, Math.min(2000, Math.round(width))));
        return { source: 'downsample', series: data.map((s) => ({ labels: s.labels, points: s.points.map((p) => [p[0], p[2]]) })) };
      }
      const data = await api('GET', '/v1/metrics/series' + q);
      return { source: 'raw', series: data.map((s) => ({ labels: s.labels, points: s.points })) };
    }

    function align(series) {
      const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
      const index = new Map(xs.map((x, i) => [x, i]));
      const cols = series.map((s) => {
        const col = new Array(xs.length).fill(null);
        for (const [x, v] of s.points) col[index.get(x)] = v;
        return col;
      });
      return [xs.map((x) => x / 1000), ...cols];
    }

    let loading = 0;
    async function loadCharts() {
      const mine = ++loading;
      const [from, to] = window_();
      const width = Math.max(280, chartsBox.clientWidth || 600);
      const charts = [];
      const sections = [];
      for (const [group, names] of GROUPS) {
        const present = names.filter((n) => metrics.includes(n));
        if (!present.length) continue;
        const grid = h('div', { class: 'grid' });
        sections.push(h('section', { class: 'group', 'data-group': group }, h('h2', { text: t('group.' + group) }), grid));
        for (const metric of present) {
          const box = h('figure', { class: 'chart', 'data-metric': metric }, h('figcaption', { text: t('metric.' + metric) }));
          grid.append(box);
          charts.push({ metric, box });
        }
      }
      const results = await Promise.all(charts.map((c) => fetchSeries(c.metric, from, to, width).catch(() => ({ source: 'error', series: [] }))));
      if (mine !== loading) return;
      oxmon.charts.forEach((c) => c.u && c.u.destroy());
      oxmon.charts = [];
      chartsBox.replaceChildren(...sections);
      const dark = currentTheme() === 'dark';
      const axisStroke = dark ? '#cbd5e1' : '#334155';
      const grid = { stroke: dark ? '#334155' : '#e2e8f0', width: 1 };
      charts.forEach((c, i) => {
        const { source, series } = results[i];
        const fmt = UNITS[c.metric] || ((v) => num(v, 2));
        const data = align(series);
        const entry = { metric: c.metric, source, series: series.length, points: data[0].length, data, u: null };
        oxmon.charts.push(entry);
        if (!series.length || typeof uPlot === 'undefined') {
          c.box.append(h('p', { class: 'muted', text: t('host.no_data') }));
          return;
        }
        const opts = {
          width: Math.max(260, Math.min(c.box.clientWidth - 16 || width, 1200)),
          height: 180,
          cursor: { sync: { key: 'oxmon-host' }, drag: { x: true, y: false } },
          legend: { show: series.length <= 8 },
          // The x axis always spans the chosen range, however much data there is.
          scales: { x: { time: true, range: () => [from / 1000, to / 1000] }, y: fmt === pct ? { range: (u, min, max) => [0, Math.max(100, max)] } : {} },
          axes: [
            { stroke: axisStroke, grid },
            { stroke: axisStroke, grid, size: 70, values: (u, vals) => vals.map((v) => fmt(v)) },
          ],
          series: [
            { label: t('host.time') },
            ...series.map((s, j) => ({
              label: seriesLabel(s.labels),
              stroke: PALETTE[j % PALETTE.length],
              width: 1.5,
              spanGaps: false,
              value: (u, v) => (v === null || v === undefined ? '–' : fmt(v)),
            })),
          ],
          hooks: {
            setSelect: [
              (u) => {
                if (u.select.width < 5) return;
                const min = u.posToVal(u.select.left, 'x') * 1000;
                const max = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
                host.range = 'custom';
                host.from = Math.round(min);
                host.to = Math.round(max);
                drawRanges();
                loadCharts();
              },
            ],
          },
        };
        entry.u = new uPlot(opts, data, c.box);
      });
      oxmon.ready = true;
    }

    async function loadAlerts() {
      try {
        const [active, hist] = await Promise.all([
          api('GET', '/v1/alerts/active?limit=1000'),
          api('GET', '/v1/alerts/history?agent_id__eq=' + eid + '&limit=20'),
        ]);
        const mine = active.filter((a) => a.agent_id === id);
        alertBox.replaceChildren(
          h('h2', { id: 'host-alerts-h', text: t('host.alerts') }),
          mine.length ? alertTable(mine, true, loadAlerts, 'host-active') : h('p', { class: 'muted', text: t('alerts.none_active') }),
          h('h3', { text: t('host.history') }),
          hist.length ? alertTable(hist, false, loadAlerts, 'host-history') : h('p', { class: 'muted', text: t('alerts.none_history') }),
        );
      } catch (_) {
        /* 401 handled by api() */
      }
    }

    drawRanges();
    (async () => {
      try {
        await discover();
      } catch (e) {
        if (e.status === 404) {
          chartsBox.replaceChildren(h('p', { class: 'error', text: t('host.unknown') }));
          oxmon.ready = true;
          return;
        }
        throw e;
      }
      await Promise.all([loadAlerts(), loadCharts()]);
    })().catch(() => {});
    every(30000, () => {
      if (host.range !== 'custom') loadCharts();
      loadAlerts();
    });
  }

  // ---- alerts ---------------------------------------------------------------
  function alertTable(events, actions, reload, id) {
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'alerts', id },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['alerts.col_time', 'alerts.col_severity', 'alerts.col_agent', 'alerts.col_rule', 'alerts.col_message', 'alerts.col_status']
              .map((k) => h('th', { scope: 'col', text: t(k) })),
            actions ? h('th', { scope: 'col', text: t('alerts.col_actions') }) : null,
          ),
        ),
        h(
          'tbody',
          {},
          events.map((e) =>
            h(
              'tr',
              { 'data-alert': e.id, 'data-status': String(e.status) },
              h('td', { 'data-label': t('alerts.col_time'), text: stamp(e.timestamp) }),
              h('td', { 'data-label': t('alerts.col_severity') }, h('span', { class: 'badge ' + e.severity, text: t('severity.' + e.severity) })),
              h('td', { 'data-label': t('alerts.col_agent') }, h('a', { href: '/hosts/' + encodeURIComponent(e.agent_id), 'data-link': true, text: e.agent_id })),
              h('td', { 'data-label': t('alerts.col_rule'), text: e.rule_name }),
              h('td', { 'data-label': t('alerts.col_message'), class: 'msg', text: e.message }),
              h('td', { 'data-label': t('alerts.col_status'), class: 'status', text: alertStatus(e.status) }),
              actions
                ? h(
                    'td',
                    { 'data-label': t('alerts.col_actions'), class: 'actions' },
                    e.status === 1
                      ? h('button', {
                          type: 'button',
                          class: 'ack',
                          text: t('alerts.acknowledge'),
                          'aria-label': t('alerts.acknowledge') + ': ' + e.rule_name + ' ' + e.agent_id,
                          onclick: async () => {
                            await api('POST', '/v1/alerts/history/' + encodeURIComponent(e.id) + '/acknowledge');
                            reload();
                          },
                        })
                      : null,
                    h('button', {
                      type: 'button',
                      class: 'resolve ghost',
                      text: t('alerts.resolve'),
                      'aria-label': t('alerts.resolve') + ': ' + e.rule_name + ' ' + e.agent_id,
                      onclick: async () => {
                        await api('POST', '/v1/alerts/history/' + encodeURIComponent(e.id) + '/resolve');
                        reload();
                      },
                    }),
                  )
                : null,
            ),
          ),
        ),
      ),
    );
  }

  const alertFilters = { severity: '', agent: '', rule: '', status: '', hours: '24' };

  function alertsPage(main) {
    const activeBox = h('section', { 'aria-labelledby': 'active-h' });
    const historyBox = h('div', { id: 'history' });
    const field = (key, id, control) => h('div', { class: 'field' }, h('label', { for: id, text: t(key) }), control);
    const sel = (id, prop, options) =>
      h(
        'select',
        { id, onchange: (e) => ((alertFilters[prop] = e.target.value), loadHistory()) },
        options.map(([v, k]) => h('option', { value: v, selected: alertFilters[prop] === v, text: t(k) })),
      );
    const text = (id, prop) =>
      h('input', { id, type: 'search', value: alertFilters[prop], onchange: (e) => ((alertFilters[prop] = e.target.value.trim()), loadHistory()) });
    const filters = h(
      'form',
      { class: 'filters', onsubmit: (e) => (e.preventDefault(), loadHistory()) },
      field('alerts.filter_severity', 'f-severity', sel('f-severity', 'severity', [['', 'common.all'], ['info', 'severity.info'], ['warning', 'severity.warning'], ['critical', 'severity.critical']])),
      field('alerts.filter_status', 'f-status', sel('f-status', 'status', [['', 'common.all'], ['1', 'alert.status_open'], ['2', 'alert.status_acknowledged'], ['3', 'alert.status_resolved']])),
      field('alerts.filter_agent', 'f-agent', text('f-agent', 'agent')),
      field('alerts.filter_rule', 'f-rule', text('f-rule', 'rule')),
      field('alerts.filter_time', 'f-hours', sel('f-hours', 'hours', [['1', 'host.range_1h'], ['24', 'host.range_24h'], ['168', 'host.range_7d'], ['720', 'alerts.range_30d']])),
    );
    main.append(
      h('h1', { text: t('alerts.title') }),
      activeBox,
      h('section', { 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h', text: t('alerts.history') }), filters, historyBox),
    );

    async function loadActive() {
      try {
        const active = await api('GET', '/v1/alerts/active?limit=1000');
        activeBox.replaceChildren(
          h('h2', { id: 'active-h', text: t('alerts.active') + ' (' + active.length + ')' }),
          active.length ? alertTable(active, true, reloadAll, 'active-alerts') : h('p', { class: 'muted', text: t('alerts.none_active') }),
        );
      } catch (_) {
        /* 401 handled by api() */
      }
    }

    async function loadHistory() {
      const q = new URLSearchParams({ limit: '200', timestamp__gte: new Date(Date.now() - Number(alertFilters.hours) * 3600e3).toISOString() });
      if (alertFilters.severity) q.set('severity__eq', alertFilters.severity);
      if (alertFilters.agent) q.set('agent_id__eq', alertFilters.agent);
      try {
        let events = await api('GET', '/v1/alerts/history?' + q.toString());
        // Rule and status are filtered here, over the newest 200 events.
        if (alertFilters.rule) events = events.filter((e) => e.rule_name.toLowerCase().includes(alertFilters.rule.toLowerCase()));
        if (alertFilters.status) events = events.filter((e) => String(e.status) === alertFilters.status);
        historyBox.replaceChildren(events.length ? alertTable(events, false, reloadAll, 'alert-history') : h('p', { class: 'muted', text: t('alerts.none_history') }));
      } catch (e) {
        if (e.status !== 401) historyBox.replaceChildren(h('p', { class: 'error', role: 'alert', text: e.message }));
      }
    }

    async function reloadAll() {
      await Promise.all([loadActive(), loadHistory()]);
      oxmon.ready = true;
    }
    reloadAll();
    every(15000, reloadAll);
  }

  // ---- start ----------------------------------------------------------------
  applyTheme();
  if (window.matchMedia) window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);
  (async () => {
    const l = initialLang();
    await loadCatalog('en');
    if (l !== 'en') await loadCatalog(l);
    lang = l;
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
    render();
  })();
})();
