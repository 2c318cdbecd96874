// The dashboard in headless Chromium, driven by Playwright:
//
//   node tests/browser/dashboard.mjs http://127.0.0.1:8080 [screenshot.png]
//
// Against a hoso serving data (the e2e test feeds it the demo), it checks
// that every card shows the number SQL gives for the same place (asked of
// the contract's views, not the page's own queries), that drill-down from
// the country to a province and to a commune works, that the communes
// table sorts from the keyboard, that the page switches language and
// fits a phone, and that no request leaves 127.0.0.1. It saves a
// screenshot of the country page. Exits non-zero on the first failure.

import { chromium } from 'playwright-core';

const base = (process.argv[2] || 'http://127.0.0.1:8080').replace(/\/$/, '');
const screenshot = process.argv[3] || 'dashboard.png';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

function check(ok, message) {
  if (!ok) throw new Error(message);
}

async function sql(text) {
  const r = await fetch(`${base}/v1/sql?format=json`, { method: 'POST', body: text });
  const body = await r.text();
  check(r.ok, `${text} -> ${r.status} ${body}`);
  return JSON.parse(body);
}

const TODAY = "CAST(now() + INTERVAL '7 hours' AS DATE)";

// What the cards must show for a place, from the contract's views and the
// backlog views: none of the page's SQL.
async function expected(place) {
  const w = [];
  if (place.province) w.push(`province_code = '${place.province}'`);
  if (place.commune) w.push(`commune_code = '${place.commune}'`);
  const and = w.map((c) => ` AND ${c}`).join('');
  const where = w.length ? ` WHERE ${w.join(' AND ')}` : '';
  const [today] = await sql(`SELECT CAST(COALESCE(SUM(received), 0) AS BIGINT) AS received,
      CAST(COALESCE(SUM(received_online), 0) AS BIGINT) AS online
    FROM online_share WHERE day = ${TODAY}${and}`);
  const [ended] = await sql(`SELECT CAST(COALESCE(SUM(ended), 0) AS BIGINT) AS ended,
      CAST(COALESCE(SUM(ended_on_time), 0) AS BIGINT) AS on_time
    FROM on_time_rate WHERE day = ${TODAY}${and}`);
  const [month] = await sql(`SELECT CAST(COALESCE(SUM(ended), 0) AS BIGINT) AS ended,
      CAST(COALESCE(SUM(ended_on_time), 0) AS BIGINT) AS on_time
    FROM on_time_rate WHERE day > ${TODAY} - INTERVAL '30 days' AND day <= ${TODAY}${and}`);
  const [overdue] = await sql(`SELECT COUNT(*) AS n FROM overdue${where}`);
  const [atRisk] = await sql(`SELECT COUNT(*) AS n FROM at_risk${where}`);
  const ratio = (n, d) => (d > 0 ? n / d : null);
  return {
    received_today: today.received,
    online_share_today: ratio(today.online, today.received),
    on_time_rate_today: ratio(ended.on_time, ended.ended),
    on_time_rate_30d: ratio(month.on_time, month.ended),
    overdue: overdue.n,
    at_risk: atRisk.n,
  };
}

// The cards as the page shows them: data-value of each.
async function shown(page) {
  return page.$$eval('#cards .card', (cards) => Object.fromEntries(cards.map((c) => [
    c.dataset.kpi, c.dataset.value === '' ? null : Number(c.dataset.value),
  ])));
}

async function loaded(page, after) {
  await page.waitForFunction((t) => Number(document.body.dataset.loaded || 0) > t, after, { timeout: 30000 });
}

// The cards equal SQL. The data may move (live feed, clocks crossing
// deadlines), so a mismatch is retried after the page's next refresh;
// a page that keeps disagreeing fails.
async function cardsMatchSql(page, place) {
  let last = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    const stamp = Number(await page.evaluate(() => document.body.dataset.loaded || 0));
    const want = await expected(place);
    const got = await shown(page);
    const diffs = Object.entries(want).filter(([k, v]) => {
      const g = got[k];
      if (v == null || g == null) return v !== g;
      return Math.abs(v - g) > 1e-9;
    });
    if (diffs.length === 0) {
      check(Number.isFinite(got.freshness), `freshness card shows ${got.freshness}`);
      return want;
    }
    last = JSON.stringify({ place, diffs, got });
    console.log(`cards differ from SQL (attempt ${attempt + 1}), waiting for a refresh: ${last}`);
    await loaded(page, stamp);
  }
  throw new Error(`the cards disagree with SQL: ${last}`);
}

async function followFirst(page, selector) {
  const stamp = Number(await page.evaluate(() => document.body.dataset.loaded || 0));
  const link = page.locator(selector).first();
  const href = await link.getAttribute('href');
  await link.click();
  await loaded(page, stamp);
  check(page.url().endsWith(href), `at ${page.url()}, not ${href}`);
  return href;
}

const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const requests = [];
const started = Date.now();
const stage = (name) => console.log(`${name} (${Date.now() - started} ms)`);
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'vi-VN' });
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto(`${base}/`);
  await loaded(page, 0);
  check((await page.title()).startsWith('hoso'), `title ${await page.title()}`);
  check(await page.evaluate(() => document.documentElement.lang) === 'vi', 'Vietnamese first');

  // Country.
  const country = await cardsMatchSql(page, {});
  check(country.received_today > 0 || country.on_time_rate_30d != null, 'the demo data is there');
  const provinces = await page.locator('#children tbody tr[data-code]').count();
  const [{ n: provincesSql }] = await sql(`SELECT COUNT(*) AS n FROM (
      SELECT province_code FROM daily_stats
        WHERE day > ${TODAY} - INTERVAL '30 days' AND day <= ${TODAY}
      UNION SELECT province_code FROM backlog_province)`);
  check(provinces === provincesSql, `${provinces} provinces listed, SQL has ${provincesSql}`);
  for (const id of ['chart-volume', 'chart-online', 'chart-on-time']) {
    check(await page.locator(`#${id} svg`).count() === 1, `${id} drawn`);
  }
  check(await page.locator('#chart-online svg line.threshold').count() === 1, 'online target drawn');
  check(await page.locator('#chart-on-time svg line.threshold').count() === 1, 'on-time target drawn');
  // Worst on-time first.
  const rates = await page.$$eval('#children tbody tr td:nth-child(4)', (tds) =>
    tds.map((td) => td.dataset.value).filter((v) => v !== '').map(Number));
  check(rates.every((r, i) => i === 0 || rates[i - 1] <= r), `not worst first: ${rates}`);
  await page.screenshot({ path: screenshot, fullPage: true });

  stage('country checked');
  // A province, then one of its communes.
  const provinceHref = await followFirst(page, '#children tbody a');
  const province = provinceHref.match(/#\/p\/(\d{2})$/)[1];
  await cardsMatchSql(page, { province });
  check(await page.locator('#crumbs li').count() === 2, 'breadcrumb country > province');

  // Sort by received, from the keyboard: the header is a button.
  await page.focus('#children button[data-sort="received"]');
  await page.keyboard.press('Enter');
  check(await page.getAttribute('#children th:nth-child(2)', 'aria-sort') === 'descending', 'sorted by received');
  const received = await page.$$eval('#children tbody tr td:nth-child(2)', (tds) => tds.map((td) => Number(td.dataset.value)));
  check(received.every((r, i) => i === 0 || received[i - 1] >= r), `not sorted: ${received}`);

  stage('province checked');
  const communeHref = await followFirst(page, '#children tbody a');
  const commune = communeHref.match(/\/c\/(\d{5})$/)[1];
  const atCommune = await cardsMatchSql(page, { province, commune });
  check(await page.locator('#crumbs li').count() === 3, 'breadcrumb country > province > commune');
  check(await page.locator('#children-section').isHidden(), 'a commune lists no children');
  // The filings table: as many as the backlog holds, at most 100.
  const rows = await page.locator('#filings tbody tr[data-filing]').count();
  const want = Math.min(100, atCommune.overdue + atCommune.at_risk);
  check(Math.abs(rows - want) <= 1, `${rows} filings listed, SQL has ${want}`);

  stage('commune checked');
  // Back to the country by the breadcrumb, then English.
  let stamp = Number(await page.evaluate(() => document.body.dataset.loaded));
  await page.click('#crumbs a[href="#/"]');
  await loaded(page, stamp);
  stamp = Number(await page.evaluate(() => document.body.dataset.loaded));
  await page.click('#lang');
  await loaded(page, stamp);
  check(await page.evaluate(() => document.documentElement.lang) === 'en', 'switched to English');
  check((await page.textContent('#charts-h')) === 'Last 30 days', 'English labels');

  // A phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the page is ${overflow}px wider than a phone`);

  check(errors.length === 0, `errors in the page: ${errors.join('; ')}`);
  const away = requests.filter((u) => new URL(u).hostname !== '127.0.0.1');
  check(away.length === 0, `requests left 127.0.0.1: ${away.join(', ')}`);
  console.log(`dashboard: ok (${requests.length} requests, all to 127.0.0.1; screenshot ${screenshot})`);
} finally {
  await browser.close();
}
