// hoso operations dashboard. Every number on the page is the answer of a
// SQL query sent to POST /v1/sql (the executor every protocol uses), as
// the signed-in caller: the page can show nothing SQL would not. No
// library, no request to any other origin (the server's
// Content-Security-Policy enforces it).
'use strict';

const REFRESH_MS = 5000;
const DAYS = 30;
// Decision 766: half the filings online earns the full online score.
const ONLINE_TARGET = 0.5;
// The default alert rule CommuneOnTimeRateLow (and the Grafana panel).
const ON_TIME_TARGET = 0.95;
const MAX_FILINGS = 100;

const TEXT = {
  vi: {
    skip: 'Bỏ qua đến nội dung', title: 'Bảng điều hành dịch vụ công', pause: 'Tạm dừng',
    resume: 'Tiếp tục', token_label: 'Mã truy cập (token)', sign_in: 'Đăng nhập',
    bad_token: 'Mã truy cập không đúng.', kpis: 'Chỉ số', last_30_days: '30 ngày qua',
    chart_volume: 'Hồ sơ tiếp nhận theo kênh', chart_online: 'Tỷ lệ trực tuyến',
    chart_on_time: 'Tỷ lệ đúng hạn', alerts: 'Cảnh báo đang kích hoạt',
    filings: 'Hồ sơ quá hạn và sắp đến hạn',
    footer: 'Mọi con số được tính bằng SQL qua cùng bộ thực thi với /v1/sql.',
    country: 'Cả nước', province: 'Tỉnh/thành', commune: 'Xã/phường',
    provinces: 'Các tỉnh/thành', communes: 'Các xã/phường',
    received_today: 'Tiếp nhận hôm nay', online_share_today: 'Trực tuyến hôm nay',
    on_time_today: 'Đúng hạn hôm nay', on_time_30d: 'Đúng hạn 30 ngày',
    overdue: 'Quá hạn (đang mở)', at_risk: 'Sắp đến hạn', freshness: 'Độ trễ dữ liệu',
    of_received: 'trên {n} hồ sơ', of_ended: 'trên {n} hồ sơ đã giải quyết',
    open: '{n} hồ sơ đang mở', lag: '{n} tin chờ xử lý', no_data: 'chưa có dữ liệu',
    online: 'Trực tuyến', offline: 'Trực tiếp và bưu chính', target: 'Ngưỡng {p}',
    name: 'Tên', code: 'Mã', received_30d: 'Tiếp nhận 30 ngày', online_share: 'Trực tuyến',
    on_time_rate: 'Đúng hạn', filing: 'Hồ sơ', procedure: 'Thủ tục', channel: 'Kênh',
    due: 'Hạn xử lý', hours: 'Giờ làm việc', status: 'Tình trạng',
    kind_overdue: 'Quá hạn', kind_at_risk: 'Sắp đến hạn', rule: 'Cảnh báo',
    severity: 'Mức độ', summary: 'Nội dung', since: 'Từ lúc', none: 'Không có',
    updated: 'Cập nhật {t}', paused: 'Đã tạm dừng', stale: 'Lỗi cập nhật: {e}',
    shown_of: 'Hiển thị {n} hồ sơ đầu tiên (theo hạn)', in_person: 'Trực tiếp', postal: 'Bưu chính',
    seconds: '{n} giây', minutes: '{n} phút', hours_short: '{n} giờ',
  },
  en: {
    skip: 'Skip to content', title: 'Public service operations', pause: 'Pause',
    resume: 'Resume', token_label: 'Access token', sign_in: 'Sign in',
    bad_token: 'That token was not accepted.', kpis: 'Indicators', last_30_days: 'Last 30 days',
    chart_volume: 'Filings received by channel', chart_online: 'Online share',
    chart_on_time: 'On-time rate', alerts: 'Firing alerts',
    filings: 'Overdue and at-risk filings',
    footer: 'Every number is computed in SQL by the same executor as /v1/sql.',
    country: 'Vietnam', province: 'Province', commune: 'Commune',
    provinces: 'Provinces', communes: 'Communes',
    received_today: 'Received today', online_share_today: 'Online today',
    on_time_today: 'On time today', on_time_30d: 'On time, 30 days',
    overdue: 'Overdue (open)', at_risk: 'At risk', freshness: 'Data freshness',
    of_received: 'of {n} filings', of_ended: 'of {n} ended filings',
    open: '{n} open filings', lag: '{n} messages waiting', no_data: 'no data yet',
    online: 'Online', offline: 'In person and postal', target: 'Target {p}',
    name: 'Name', code: 'Code', received_30d: 'Received, 30 days', online_share: 'Online',
    on_time_rate: 'On time', filing: 'Filing', procedure: 'Procedure', channel: 'Channel',
    due: 'Due', hours: 'Working hours', status: 'Status',
    kind_overdue: 'Overdue', kind_at_risk: 'At risk', rule: 'Alert',
    severity: 'Severity', summary: 'Summary', since: 'Since', none: 'None',
    updated: 'Updated {t}', paused: 'Paused', stale: 'Update failed: {e}',
    shown_of: 'Showing the first {n} filings (by due)', in_person: 'In person', postal: 'Postal',
    seconds: '{n} s', minutes: '{n} min', hours_short: '{n} h',
  },
};

let lang = localStorage.getItem('hoso.lang') === 'en' ? 'en' : 'vi';
let token = sessionStorage.getItem('hoso.token') || '';
let paused = false;
let busy = false;
let timer = null;
// Sort of the children table: column key and direction (1 ascending).
let sort = { key: 'on_time_rate', dir: 1 };
let lastChildren = [];
// Names of provinces and communes (from the table `communes`), by code.
const names = { provinces: null, communes: new Map() };

const $ = (id) => document.getElementById(id);
const t = (key, vars) => {
  let s = (TEXT[lang][key] ?? key);
  for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, v);
  return s;
};

// ---- numbers and time ---------------------------------------------------

const locale = () => (lang === 'vi' ? 'vi-VN' : 'en-GB');
const fmtInt = (n) => (n == null ? '—' : Number(n).toLocaleString(locale()));
const fmtPct = (r) => (r == null || !isFinite(r) ? '—'
  : (100 * r).toLocaleString(locale(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + ' %');
const ratio = (n, d) => (d > 0 ? n / d : null);
const fmtTime = (iso) => {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(locale(), { timeZone: 'Asia/Ho_Chi_Minh', dateStyle: 'short', timeStyle: 'short' });
};
const fmtAge = (s) => {
  if (s == null) return '—';
  if (s < 120) return t('seconds', { n: Math.round(s) });
  if (s < 7200) return t('minutes', { n: Math.round(s / 60) });
  return t('hours_short', { n: Math.round(s / 3600) });
};
// Today in Vietnam (UTC+7, no daylight saving), as the views count days.
const vnDay = (ms) => new Date(ms + 7 * 3600e3).toISOString().slice(0, 10);
const addDays = (day, n) => vnDay(Date.parse(day + 'T00:00:00Z') - 7 * 3600e3 + n * 86400e3);

// ---- SQL ------------------------------------------------------------------

class SignInNeeded extends Error {}

async function sql(text) {
  const headers = { 'content-type': 'text/plain' };
  if (token) headers.authorization = 'Bearer ' + token;
  const r = await fetch('/v1/sql?format=json', { method: 'POST', headers, body: text });
  if (r.status === 401) throw new SignInNeeded();
  if (!r.ok) {
    let message = r.statusText;
    try { message = (await r.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return r.json();
}

// ---- where we are ---------------------------------------------------------

// #/ (country), #/p/91 (province), #/p/91/c/30292 (commune). Codes are
// digits only, so they go into SQL literals as they are.
function route() {
  const m = location.hash.match(/^#\/p\/(\d{2})(?:\/c\/(\d{5}))?$/);
  return m ? { province: m[1], commune: m[2] || null } : { province: null, commune: null };
}

function filter(r, alias) {
  const p = alias ? alias + '.' : '';
  const c = [];
  if (r.province) c.push(`${p}province_code = '${r.province}'`);
  if (r.commune) c.push(`${p}commune_code = '${r.commune}'`);
  return c;
}
const whereOf = (conds) => (conds.length ? ' WHERE ' + conds.join(' AND ') : '');
const andOf = (conds) => conds.map((c) => ' AND ' + c).join('');

async function loadNames(r) {
  if (!names.provinces) {
    const rows = await sql('SELECT DISTINCT province_code, province_name FROM communes');
    names.provinces = new Map(rows.map((x) => [x.province_code, x.province_name]));
  }
  if (r.province && !names.communes.has(r.province)) {
    const rows = await sql(`SELECT commune_code, commune_name, unit_type FROM communes WHERE province_code = '${r.province}'`);
    names.communes.set(r.province, new Map(rows.map((x) => [x.commune_code, `${x.unit_type} ${x.commune_name}`])));
  }
}
const provinceName = (code) => names.provinces?.get(code) || `${t('province')} ${code}`;
const communeName = (p, code) => names.communes.get(p)?.get(code) || `${t('commune')} ${code}`;

// ---- the queries ----------------------------------------------------------

function queries(r, today) {
  const w = filter(r);
  const from = addDays(today, -(DAYS - 1));
  const window = `day >= DATE '${from}' AND day <= DATE '${today}'`;
  const q = {
    totals: `SELECT
        CAST(COALESCE(SUM(CASE WHEN day = DATE '${today}' THEN received END), 0) AS BIGINT) AS received_today,
        CAST(COALESCE(SUM(CASE WHEN day = DATE '${today}' THEN received_online END), 0) AS BIGINT) AS online_today,
        CAST(COALESCE(SUM(CASE WHEN day = DATE '${today}' THEN ended END), 0) AS BIGINT) AS ended_today,
        CAST(COALESCE(SUM(CASE WHEN day = DATE '${today}' THEN ended_on_time END), 0) AS BIGINT) AS on_time_today,
        CAST(COALESCE(SUM(ended), 0) AS BIGINT) AS ended_30d,
        CAST(COALESCE(SUM(ended_on_time), 0) AS BIGINT) AS on_time_30d
      FROM daily_stats WHERE ${window}${andOf(w)}`,
    backlog: `SELECT CAST(COALESCE(SUM(open), 0) AS BIGINT) AS open,
        CAST(COALESCE(SUM(overdue), 0) AS BIGINT) AS overdue,
        CAST(COALESCE(SUM(at_risk), 0) AS BIGINT) AS at_risk
      FROM backlog${whereOf(w)}`,
    freshness: 'SELECT behind_seconds, lag_messages FROM system.freshness',
    series: `SELECT CAST(day AS VARCHAR) AS day,
        CAST(SUM(received) AS BIGINT) AS received, CAST(SUM(received_online) AS BIGINT) AS online,
        CAST(SUM(ended) AS BIGINT) AS ended, CAST(SUM(ended_on_time) AS BIGINT) AS on_time
      FROM daily_stats WHERE ${window}${andOf(w)} GROUP BY day ORDER BY day`,
    filings: `SELECT f.*, p.name_vi, p.name_en FROM (
        SELECT 'overdue' AS kind, filing_id, province_code, commune_code, procedure_code, channel, status,
          CAST(effective_due_at AS VARCHAR) AS due, -working_hours_overdue AS hours
        FROM overdue${whereOf(w)}
        UNION ALL
        SELECT 'at_risk', filing_id, province_code, commune_code, procedure_code, channel, status,
          CAST(effective_due_at AS VARCHAR), working_hours_left
        FROM at_risk${whereOf(w)}) f
      LEFT JOIN procedures p ON f.procedure_code = p.procedure_code
      ORDER BY f.due, f.filing_id LIMIT ${MAX_FILINGS}`,
    alerts: `SELECT rule, severity, summary, province_code, commune_code, CAST(fired_at AS VARCHAR) AS fired_at
      FROM alerts WHERE state = 'firing' AND filing_id IS NULL${
        r.commune ? ` AND (commune_code = '${r.commune}' OR (commune_code IS NULL AND province_code = '${r.province}'))`
          : r.province ? ` AND province_code = '${r.province}'` : ''}
      ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, fired_at`,
  };
  if (!r.commune) {
    const key = r.province ? 'commune_code' : 'province_code';
    q.children = `SELECT ${key} AS code,
        CAST(SUM(received) AS BIGINT) AS received, CAST(SUM(received_online) AS BIGINT) AS online,
        CAST(SUM(ended) AS BIGINT) AS ended, CAST(SUM(ended_on_time) AS BIGINT) AS on_time
      FROM daily_stats WHERE ${window}${andOf(w)} GROUP BY ${key}`;
    q.childBacklog = `SELECT ${key} AS code, CAST(SUM(overdue) AS BIGINT) AS overdue,
        CAST(SUM(at_risk) AS BIGINT) AS at_risk FROM backlog${whereOf(w)} GROUP BY ${key}`;
  }
  return q;
}

async function runAll(q) {
  const keys = Object.keys(q);
  const answers = await Promise.all(keys.map((k) => sql(q[k]).catch((e) => {
    if (e instanceof SignInNeeded) throw e;
    return { error: e.message };
  })));
  return Object.fromEntries(keys.map((k, i) => [k, answers[i]]));
}

// ---- drawing ----------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null) continue;
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) e.append(c.nodeType ? c : String(c));
  return e;
}

function card(kpi, label, value, shown, note, status) {
  return el('div', { class: 'card' + (status ? ' ' + status : ''), 'data-kpi': kpi, 'data-value': value ?? '' },
    el('div', { class: 'label' }, label),
    el('div', { class: 'value' }, shown),
    el('div', { class: 'note' }, note || ' '));
}

function drawCards(a) {
  const cards = $('cards');
  const tot = a.totals?.[0];
  const bl = a.backlog?.[0];
  const fr = a.freshness?.[0];
  const out = [];
  if (tot) {
    const online = ratio(tot.online_today, tot.received_today);
    const today = ratio(tot.on_time_today, tot.ended_today);
    const month = ratio(tot.on_time_30d, tot.ended_30d);
    const rate = (r, target) => (r == null ? null : r >= target ? 'good' : 'bad');
    out.push(card('received_today', t('received_today'), tot.received_today, fmtInt(tot.received_today)));
    out.push(card('online_share_today', t('online_share_today'), online, fmtPct(online),
      t('of_received', { n: fmtInt(tot.received_today) }), rate(online, ONLINE_TARGET)));
    out.push(card('on_time_rate_today', t('on_time_today'), today, fmtPct(today),
      t('of_ended', { n: fmtInt(tot.ended_today) }), rate(today, ON_TIME_TARGET)));
    out.push(card('on_time_rate_30d', t('on_time_30d'), month, fmtPct(month),
      t('of_ended', { n: fmtInt(tot.ended_30d) }), rate(month, ON_TIME_TARGET)));
  }
  if (bl) {
    out.push(card('overdue', t('overdue'), bl.overdue, fmtInt(bl.overdue),
      t('open', { n: fmtInt(bl.open) }), bl.overdue > 0 ? 'bad' : 'good'));
    out.push(card('at_risk', t('at_risk'), bl.at_risk, fmtInt(bl.at_risk), null, bl.at_risk > 0 ? 'warn' : 'good'));
  }
  const behind = fr ? fr.behind_seconds : null;
  out.push(card('freshness', t('freshness'), behind, fmtAge(behind),
    fr ? t('lag', { n: fmtInt(fr.lag_messages ?? 0) }) : t('no_data'),
    behind == null ? null : fr.lag_messages > 0 && behind > 60 ? 'bad' : 'good'));
  cards.replaceChildren(...out);
}

// The last DAYS days, oldest first, with the days without rows as zeros.
function dailySeries(rows, today) {
  const byDay = new Map((rows || []).map((x) => [x.day, x]));
  const out = [];
  for (let i = DAYS - 1; i >= 0; i--) {
    const day = addDays(today, -i);
    const x = byDay.get(day) || {};
    out.push({ day, received: x.received || 0, online: x.online || 0, ended: x.ended || 0, on_time: x.on_time || 0 });
  }
  return out;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) e.setAttribute(k, v);
  for (const c of children) if (c != null) e.append(c.nodeType ? c : String(c));
  return e;
}

const W = 360, H = 170, L = 40, R = 8, TOP = 10, B = 22;
function frame(days, max, fmt, min = 0) {
  const g = svg('g');
  const y = (v) => TOP + (H - TOP - B) * (1 - (v - min) / (max - min));
  for (const v of [min, (min + max) / 2, max]) {
    g.append(svg('line', { class: 'axis', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    g.append(svg('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end' }, fmt(v)));
  }
  const step = (W - L - R) / days.length;
  days.forEach((d, i) => {
    if (i % 7 === (days.length - 1) % 7) {
      g.append(svg('text', { x: L + step * (i + 0.5), y: H - 6, 'text-anchor': 'middle' }, d.day.slice(8) + '/' + d.day.slice(5, 7)));
    }
  });
  return { g, y, step };
}

function volumeChart(days) {
  const max = Math.max(1, ...days.map((d) => d.received));
  const nice = niceMax(max);
  const { g, y, step } = frame(days, nice, (v) => fmtInt(Math.round(v)));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': t('chart_volume') }, g);
  days.forEach((d, i) => {
    const x = L + step * i + step * 0.15;
    const w = step * 0.7;
    const offline = d.received - d.online;
    const title = `${d.day}: ${fmtInt(d.received)} (${t('online')} ${fmtInt(d.online)}, ${t('offline')} ${fmtInt(offline)})`;
    root.append(svg('rect', { x, width: w, y: y(offline), height: y(0) - y(offline), class: 'offline' }, svg('title', {}, title)));
    root.append(svg('rect', { x, width: w, y: y(d.received), height: y(offline) - y(d.received), class: 'online' }, svg('title', {}, title)));
  });
  return [root, legend([[t('online'), 'online'], [t('offline'), 'offline']])];
}

function rateChart(days, num, den, target, color, label) {
  // The scale hugs the data and the target, in steps of 5 %: a rate
  // that moves between 96 % and 99 % should not look flat.
  const rates = days.map((d) => ratio(d[num], d[den])).filter((r) => r != null);
  const lo = Math.max(0, Math.floor((Math.min(target, ...rates) - 0.02) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(target, ...rates) + 0.02) * 20) / 20);
  const { g, y, step } = frame(days, hi, (v) => Math.round(v * 100) + '%', lo);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label }, g);
  root.append(svg('line', { class: 'threshold', x1: L, x2: W - R, y1: y(target), y2: y(target) }));
  root.append(svg('text', { class: 'threshold-label', x: W - R, y: y(target) - 3, 'text-anchor': 'end' },
    t('target', { p: Math.round(target * 100) + '%' })));
  const line = svg('path', { class: 'line ' + color });
  root.append(line);
  // A day with nothing to divide lifts the pen: no line through it.
  let path = '';
  let pen = false;
  days.forEach((d, i) => {
    const r = ratio(d[num], d[den]);
    if (r == null) { pen = false; return; }
    const x = L + step * (i + 0.5);
    path += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y(r).toFixed(1)} `;
    pen = true;
    root.append(svg('circle', { cx: x, cy: y(r), r: 2.2, class: color },
      svg('title', {}, `${d.day}: ${fmtPct(r)} (${fmtInt(d[num])}/${fmtInt(d[den])})`)));
  });
  line.setAttribute('d', path.trim());
  return [root, legend([[label, color], [t('target', { p: Math.round(target * 100) + '%' }), 'threshold']])];
}

function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function legend(items) {
  return el('div', { class: 'legend' }, items.map(([label, kind]) => el('span', {}, el('i', { class: kind }), label)));
}

function drawCharts(rows, today) {
  const days = dailySeries(rows, today);
  $('chart-volume').replaceChildren(...volumeChart(days));
  $('chart-online').replaceChildren(...rateChart(days, 'online', 'received', ONLINE_TARGET, 'online', t('chart_online')));
  $('chart-on-time').replaceChildren(...rateChart(days, 'on_time', 'ended', ON_TIME_TARGET, 'on-time', t('chart_on_time')));
}

// ---- tables -----------------------------------------------------------------

const CHILD_COLUMNS = [
  { key: 'name', label: 'name' },
  { key: 'received', label: 'received_30d', num: true, fmt: fmtInt },
  { key: 'online_share', label: 'online_share', num: true, fmt: fmtPct },
  { key: 'on_time_rate', label: 'on_time_rate', num: true, fmt: fmtPct },
  { key: 'overdue', label: 'overdue', num: true, fmt: fmtInt },
  { key: 'at_risk', label: 'at_risk', num: true, fmt: fmtInt },
];

function children(a, r) {
  const by = new Map();
  const get = (code) => {
    if (!by.has(code)) by.set(code, { code, received: 0, online: 0, ended: 0, on_time: 0, overdue: 0, at_risk: 0 });
    return by.get(code);
  };
  for (const x of Array.isArray(a.children) ? a.children : []) Object.assign(get(x.code), x);
  for (const x of Array.isArray(a.childBacklog) ? a.childBacklog : []) Object.assign(get(x.code), x);
  return [...by.values()].map((x) => ({
    ...x,
    name: r.province ? communeName(r.province, x.code) : provinceName(x.code),
    href: r.province ? `#/p/${r.province}/c/${x.code}` : `#/p/${x.code}`,
    online_share: ratio(x.online, x.received),
    on_time_rate: ratio(x.on_time, x.ended),
  }));
}

function compare(a, b) {
  const x = a[sort.key], y = b[sort.key];
  // No value sorts last whichever the direction.
  if (x == null && y == null) return a.code.localeCompare(b.code);
  if (x == null) return 1;
  if (y == null) return -1;
  const c = typeof x === 'string' ? x.localeCompare(y, locale()) : x - y;
  return sort.dir * c || a.code.localeCompare(b.code);
}

function drawChildren(r) {
  const section = $('children-section');
  if (r.commune) { section.hidden = true; return; }
  section.hidden = false;
  $('children-h').textContent = r.province ? t('communes') : t('provinces');
  const rows = [...lastChildren].sort(compare);
  const head = el('tr', {}, CHILD_COLUMNS.map((c) => el('th', {
    class: c.num ? 'num' : null, scope: 'col',
    'aria-sort': sort.key === c.key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none',
  }, el('button', { type: 'button', 'data-sort': c.key }, t(c.label)))));
  const body = rows.map((x) => el('tr', { 'data-code': x.code }, CHILD_COLUMNS.map((c) => {
    if (c.key === 'name') return el('td', {}, el('a', { href: x.href }, x.name), ' ', el('small', {}, x.code));
    const v = x[c.key];
    const cls = [c.num ? 'num' : '', c.key === 'on_time_rate' && v != null && v < ON_TIME_TARGET ? 'bad' : '',
      c.key === 'overdue' && v > 0 ? 'bad' : ''].join(' ').trim();
    return el('td', { class: cls || null, 'data-value': v ?? '' }, c.fmt(v));
  })));
  const table = $('children');
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, body.length ? body
    : el('tr', {}, el('td', { class: 'empty', colspan: CHILD_COLUMNS.length }, t('no_data')))));
}

function drawAlerts(rows) {
  const table = $('alerts');
  if (!Array.isArray(rows) || rows.length === 0) {
    table.replaceChildren(el('tbody', {}, el('tr', {}, el('td', { class: 'empty' }, t('none')))));
    return;
  }
  table.replaceChildren(
    el('thead', {}, el('tr', {}, ['rule', 'severity', 'summary', 'since'].map((k) => el('th', { scope: 'col' }, t(k))))),
    el('tbody', {}, rows.map((x) => el('tr', {},
      el('td', {}, x.rule), el('td', {}, el('span', { class: 'sev ' + x.severity }, x.severity)),
      el('td', {}, x.summary), el('td', {}, fmtTime(x.fired_at))))));
}

function drawFilings(rows, r) {
  const table = $('filings');
  if (!Array.isArray(rows) || rows.length === 0) {
    table.replaceChildren(el('tbody', {}, el('tr', {}, el('td', { class: 'empty' }, t('none')))));
    return;
  }
  const cols = ['filing', 'status', r.commune ? null : 'commune', 'procedure', 'channel', 'due', 'hours'].filter(Boolean);
  table.replaceChildren(
    el('caption', { class: 'visually-hidden' }, t('shown_of', { n: MAX_FILINGS })),
    el('thead', {}, el('tr', {}, cols.map((k) => el('th', { scope: 'col', class: k === 'hours' ? 'num' : null }, t(k))))),
    el('tbody', {}, rows.map((x) => el('tr', { 'data-filing': x.filing_id },
      el('td', {}, x.filing_id),
      el('td', { class: x.kind === 'overdue' ? 'bad' : 'warn' }, t('kind_' + x.kind)),
      r.commune ? null : el('td', {}, el('a', { href: `#/p/${x.province_code}/c/${x.commune_code}` },
        r.province ? communeName(r.province, x.commune_code) : x.commune_code)),
      el('td', { class: 'wrap', title: x.procedure_code }, (lang === 'vi' ? x.name_vi : x.name_en) || x.procedure_code),
      el('td', {}, t(x.channel)),
      el('td', {}, fmtTime(x.due)),
      el('td', { class: 'num' }, x.hours == null ? '—' : Number(x.hours).toLocaleString(locale(), { maximumFractionDigits: 1 }))))));
}

function drawPlace(r) {
  const crumbs = [el('li', {}, r.province ? el('a', { href: '#/' }, t('country')) : t('country'))];
  if (r.province) {
    crumbs.push(el('li', {}, r.commune ? el('a', { href: `#/p/${r.province}` }, provinceName(r.province)) : provinceName(r.province)));
  }
  if (r.commune) crumbs.push(el('li', { 'aria-current': 'page' }, communeName(r.province, r.commune)));
  $('crumbs').replaceChildren(...crumbs);
  const heading = r.commune ? communeName(r.province, r.commune) : r.province ? provinceName(r.province) : t('country');
  $('heading').textContent = heading;
  document.title = `hoso · ${heading}`;
}

function translateStatic() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  const other = lang === 'vi' ? 'en' : 'vi';
  $('lang').textContent = other.toUpperCase();
  $('lang').lang = other;
  $('lang').setAttribute('aria-label', other === 'en' ? 'English' : 'Tiếng Việt');
  $('pause').textContent = paused ? t('resume') : t('pause');
}

// ---- refresh ----------------------------------------------------------------

// A refresh asked for while one runs (a click on a link, a language
// switch) runs right after it, not at the next tick.
let again = false;

async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  const r = route();
  const today = vnDay(Date.now());
  try {
    await loadNames(r).catch((e) => { if (e instanceof SignInNeeded) throw e; });
    const a = await runAll(queries(r, today));
    // The place may have changed while the answers came: drop them.
    if (JSON.stringify(r) !== JSON.stringify(route())) return;
    $('login').hidden = true;
    $('main').hidden = false;
    drawPlace(r);
    drawCards(a);
    drawCharts(Array.isArray(a.series) ? a.series : [], today);
    lastChildren = r.commune ? [] : children(a, r);
    drawChildren(r);
    drawAlerts(a.alerts);
    drawFilings(a.filings, r);
    const failed = Object.entries(a).filter(([, v]) => v && v.error).map(([k, v]) => `${k}: ${v.error}`);
    $('error').hidden = failed.length === 0;
    $('error').textContent = failed.join('; ');
    $('updated').textContent = t('updated', {
      t: new Date().toLocaleTimeString(locale(), { timeZone: 'Asia/Ho_Chi_Minh' }),
    });
    document.body.dataset.loaded = String(Date.now());
  } catch (e) {
    if (e instanceof SignInNeeded) {
      showLogin();
    } else {
      $('updated').textContent = t('stale', { e: e.message });
    }
  } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}

function schedule() {
  clearInterval(timer);
  timer = null;
  if (!paused) timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

function showLogin() {
  $('main').hidden = true;
  $('login').hidden = false;
  if (token) $('login-error').textContent = t('bad_token');
  $('token').focus();
}

document.addEventListener('DOMContentLoaded', () => {
  translateStatic();
  $('lang').addEventListener('click', () => {
    lang = lang === 'vi' ? 'en' : 'vi';
    localStorage.setItem('hoso.lang', lang);
    translateStatic();
    refresh();
  });
  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').setAttribute('aria-pressed', String(paused));
    translateStatic();
    if (paused) $('updated').textContent = t('paused'); else refresh();
    schedule();
  });
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem('hoso.token', token);
    refresh();
  });
  $('children').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-sort]');
    if (!b) return;
    const key = b.dataset.sort;
    sort = { key, dir: sort.key === key ? -sort.dir : key === 'name' ? 1 : key === 'on_time_rate' ? 1 : -1 };
    drawChildren(route());
    const again = document.querySelector(`#children button[data-sort="${key}"]`);
    if (again) again.focus();
  });
  window.addEventListener('hashchange', () => {
    sort = { key: 'on_time_rate', dir: 1 };
    refresh().then(() => $('main').focus());
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && !paused) refresh(); });
  refresh();
  schedule();
});
