// Browser suite of the txv console: Debian's Chromium driven by playwright-core against a real
// `txv serve` seeded by seed.mjs. Run by scripts/test-console.sh, which sets:
//   TXV_URL, TXV_ADMIN_KEY, TXV_ANALYST_KEY, TXV_SEED_FILE, TXV_SCREENSHOT_DIR
// Every page is checked with axe-core (no serious or critical violation) and screenshotted.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`e2e: ${k} is not set (run scripts/test-console.sh)`);
    process.exit(2);
  }
  return v;
};
const BASE = env('TXV_URL').replace(/\/$/, '');
const ADMIN_KEY = env('TXV_ADMIN_KEY');
const ANALYST_KEY = env('TXV_ANALYST_KEY');
const VALIDATOR_KEY = process.env.TXV_VALIDATOR_KEY ?? '';
const REVOKE_KEY = process.env.TXV_REVOKE_KEY ?? '';
const REVOKE_KEY_ID = process.env.TXV_REVOKE_KEY_ID ?? '';
const TXV_BIN = process.env.TXV_BIN ?? '';
const seed = JSON.parse(readFileSync(env('TXV_SEED_FILE'), 'utf8'));
const SHOTS = resolve(process.env.TXV_SCREENSHOT_DIR ?? join(here, '..', '..', 'build', 'console-screenshots'));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CONSOLE = `${BASE}/console/`;
const T = 15_000; // default wait

mkdirSync(SHOTS, { recursive: true });
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// ------------------------------------------------------------------ harness
const results = [];
const problems = []; // CSP violations and page errors, from every page
let current = '';

async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false, ms: Date.now() - t0, err });
    console.log(`FAIL ${name}\n     ${String(err?.stack ?? err).split('\n').slice(0, 6).join('\n     ')}`);
    for (const p of openPages) {
      await p.screenshot({ path: join(SHOTS, `failure-${slug(name)}-${openPages.indexOf(p)}.png`), fullPage: true }).catch(() => {});
    }
  }
}
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
function assertEq(actual, expected, msg) {
  if (actual !== expected) throw new Error(`${msg}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

const openPages = [];
function watch(page, who) {
  openPages.push(page);
  page.on('console', (m) => {
    const text = m.text();
    if (/Content[- ]Security[- ]Policy|Refused to (load|execute|apply|evaluate|connect)/i.test(text)) {
      problems.push(`[${who}] CSP: ${text}`);
    }
    if (m.type() === 'error' && !/status of (401|403|404|409|412|422)/.test(text)) {
      console.log(`     (console error on ${who}: ${text})`);
    }
  });
  page.on('pageerror', (e) => problems.push(`[${who}] page error during "${current}": ${e.message}`));
}

/** axe-core on the page as it is now; fails on any serious or critical violation. */
async function axeCheck(page, name) {
  // page.evaluate runs through the DevTools protocol and is not subject to the page's CSP,
  // unlike addScriptTag, which would inject an inline script that the CSP blocks.
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!loaded) await page.evaluate(axeSource);
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = res.violations.filter((v) => !bad.includes(v));
  if (minor.length) console.log(`     axe (${name}): ${minor.map((v) => `${v.id}/${v.impact}`).join(', ')} (not serious)`);
  if (bad.length) {
    const txt = bad
      .map((v) => `${v.id} (${v.impact}): ${v.help}\n        ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n        ')}`)
      .join('\n     ');
    throw new Error(`axe found serious/critical violations on ${name}:\n     ${txt}`);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Screenshot and accessibility check of one page, once it shows what `ready` waits for. */
async function visit(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await axeCheck(page, name);
  await shot(page, name);
}

async function signIn(page, key) {
  await page.goto(CONSOLE);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: T });
}

const queueKeys = (page) => page.locator('#queue-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.key));

// ------------------------------------------------------------------ run
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const viewport = { width: 1360, height: 900 };
const analystCtx = await browser.newContext({ viewport });
const adminCtx = await browser.newContext({ viewport });
const analyst = await analystCtx.newPage();
const admin = await adminCtx.newPage();
watch(analyst, 'analyst');
watch(admin, 'admin');
for (const p of [analyst, admin]) p.setDefaultTimeout(T);

try {
  await step('served console has security and cache headers', async () => {
    const res = await fetch(CONSOLE);
    assertEq(res.status, 200, 'GET /console/');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert(csp.includes("frame-ancestors 'none'"), `CSP has frame-ancestors 'none' (got: ${csp})`);
    assert(/script-src 'self'/.test(csp), `CSP has script-src 'self' (got: ${csp})`);
    assert(!/unsafe-inline|unsafe-eval/.test(csp), `CSP allows nothing unsafe (got: ${csp})`);
    assertEq(res.headers.get('x-content-type-options'), 'nosniff', 'X-Content-Type-Options');
    const html = await res.text();
    assert(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(html), 'index.html has no inline <script>');
    assert(!/\sstyle=/i.test(html), 'index.html has no style attribute');
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert(asset, 'index.html references a hashed script under /console/assets/');
    const a = await fetch(BASE + asset);
    assertEq(a.status, 200, `GET ${asset}`);
    assert(/javascript/.test(a.headers.get('content-type') ?? ''), `asset content type (got ${a.headers.get('content-type')})`);
    assert(/max-age=\d+/.test(a.headers.get('cache-control') ?? ''), `hashed asset has a max-age (got ${a.headers.get('cache-control')})`);
  });

  await step('sign-in page: a wrong key is refused clearly', async () => {
    await analyst.goto(CONSOLE);
    await analyst.getByRole('heading', { name: 'txv console' }).waitFor();
    await visit(analyst, 'signin');
    await analyst.getByLabel('API key').fill('txv_not_a_real_key');
    await analyst.getByRole('button', { name: 'Sign in' }).click();
    await analyst.getByText('That key was not accepted').waitFor();
  });

  if (VALIDATOR_KEY) {
    await step('a validator key is refused with a clear message', async () => {
      await analyst.getByLabel('API key').fill(VALIDATOR_KEY);
      await analyst.getByRole('button', { name: 'Sign in' }).click();
      await analyst.getByText('only admin and analyst keys can sign in').waitFor();
    });
  }

  await step('analyst signs in with the keyboard and lands on the review queue', async () => {
    await analyst.getByLabel('API key').fill(ANALYST_KEY);
    await analyst.keyboard.press('Enter');
    await analyst.getByRole('navigation', { name: 'Main' }).waitFor();
    await analyst.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
    await analyst.locator('#queue-table tbody tr').first().waitFor();
    await analyst.locator('#queue-detail .trace, #queue-detail #trace-h').first().waitFor();
    const keys = await queueKeys(analyst);
    assertEq(keys.length, seed.reviews.length, 'queue length');
    assertEq(keys[0], seed.reviews[0], 'oldest review first');
    await visit(analyst, 'queue');
  });

  await step('resolve a review with the keyboard: it leaves the queue, the next one is shown', async () => {
    const [first, second] = seed.reviews;
    await analyst.locator('h1').click(); // focus outside any form field
    await analyst.getByLabel('Note (optional, no card numbers)').fill('Customer confirmed by phone');
    await analyst.locator('h1').focus();
    await analyst.keyboard.press('a');
    await analyst.locator(`#queue-table tr[data-key="${first}"]`).waitFor({ state: 'detached' });
    await analyst.locator('#queue-status', { hasText: `Approved ${first}` }).waitFor();
    const keys = await queueKeys(analyst);
    assertEq(keys[0], second, 'next item first');
    await analyst.locator(`#queue-detail h2 >> text=${second.split('/')[1]}`).waitFor();
    // j / k move the selection.
    await analyst.keyboard.press('j');
    await analyst.locator(`#queue-table tr[aria-current="true"][data-key="${seed.reviews[2]}"]`).waitFor();
    await analyst.keyboard.press('k');
    await analyst.locator(`#queue-table tr[aria-current="true"][data-key="${second}"]`).waitFor();
    // The resolution is stored.
    const stored = await analyst.evaluate(async (k) => (await fetch(`/v1/transactions/${k}`)).json(), first);
    assertEq(stored.resolution?.decision, 'approve', 'stored resolution');
    assertEq(stored.resolution?.note, 'Customer confirmed by phone', 'stored note');
  });

  await step('two analysts on the same item: the second sees a clear 409', async () => {
    const target = seed.reviews[1];
    await signIn(admin, ADMIN_KEY);
    await admin.locator('#queue-table tbody tr').first().waitFor();
    assertEq((await queueKeys(admin))[0], target, "admin's first item");
    // Both now show `target`. The admin declines it first…
    await admin.locator('h1').focus();
    await admin.keyboard.press('d');
    await admin.locator(`#queue-table tr[data-key="${target}"]`).waitFor({ state: 'detached' });
    // …then the analyst, still looking at it, declines too.
    assertEq((await queueKeys(analyst))[0], target, "analyst's first item");
    await analyst.locator('h1').focus();
    await analyst.keyboard.press('d');
    const alert = analyst.getByRole('alert').filter({ hasText: 'Already resolved' });
    await alert.waitFor();
    const text = await alert.innerText();
    assert(/already resolved by someone else/.test(text), `409 message: ${text}`);
    assert(/console-admin/.test(text), `409 message names who resolved it: ${text}`);
    await analyst.locator(`#queue-table tr[data-key="${target}"]`).waitFor({ state: 'detached' });
    await shot(analyst, 'queue-conflict');
  });

  await step('transactions: search, filter, and cursor paging that never shifts', async () => {
    await analyst.getByRole('link', { name: 'Transactions' }).click();
    await analyst.getByRole('heading', { level: 1, name: 'Transactions' }).waitFor();
    await analyst.locator('#tx-table tbody tr').first().waitFor();
    assertEq(await analyst.locator('#tx-table tbody tr').count(), 25, 'first page size');
    await visit(analyst, 'transactions');
    // Paging: page 2 holds the rest, and going back shows the very same first page.
    const firstPageIds = await analyst.locator('#tx-table tbody tr td:nth-child(2)').allInnerTexts();
    await analyst.getByRole('button', { name: 'Next →' }).click();
    await analyst.getByText('Page 2').waitFor();
    const rows = (n) => analyst.waitForFunction((k) => document.querySelectorAll('#tx-table tbody tr').length === k, n);
    await rows(seed.total - 25); // the second page holds the rest
    assert(!(await analyst.getByRole('button', { name: 'Next →' }).isEnabled()), 'no page after the last');
    await analyst.getByRole('button', { name: '← Previous' }).click();
    await analyst.getByText('Page 1').waitFor();
    await rows(25);
    assertEq(JSON.stringify(await analyst.locator('#tx-table tbody tr td:nth-child(2)').allInnerTexts()), JSON.stringify(firstPageIds), 'page 1 unchanged');
    // Filter on decision.
    await analyst.getByLabel('Decision', { exact: true }).selectOption('decline');
    await analyst.getByRole('button', { name: 'Search' }).click();
    // (A resolved review keeps decision=review: only the seeded declines match.)
    await analyst.waitForFunction((n) => document.querySelectorAll('#tx-table tbody tr').length === n, seed.counts.decline);
  });

  await step('transaction detail: trace, label history, add a label', async () => {
    const [m, t] = seed.labelled.split('/');
    await analyst.goto(`${CONSOLE}#/transactions/${m}/${t}`);
    await analyst.getByRole('heading', { level: 1, name: `${m} / ${t}` }).waitFor();
    await analyst.getByRole('heading', { name: 'Decision trace' }).waitFor();
    await analyst.locator('.trace').first().waitFor();
    await analyst.locator('#label-history tbody tr').first().waitFor();
    const before = await analyst.locator('#label-history tbody tr').count();
    await analyst.getByLabel('Label', { exact: true }).selectOption('not_fraud');
    await analyst.getByLabel('Source').selectOption('issuer_alert');
    await analyst.getByLabel('Reason (optional)').fill('Issuer confirmed the cardholder');
    await analyst.getByRole('button', { name: 'Add label' }).click();
    await analyst.getByText('Label “not fraud” added.').waitFor();
    await analyst.waitForFunction((n) => document.querySelectorAll('#label-history tbody tr').length === n, before + 1);
    await visit(analyst, 'transaction');
  });

  await step('rules: live set with hit counts and shadow rules marked; analysts cannot save', async () => {
    await analyst.getByRole('link', { name: 'Rules' }).click();
    await analyst.locator('#rules-table tbody tr').first().waitFor();
    assertEq(await analyst.locator('#rules-table tbody tr').count(), seed.rules.length, 'live rules');
    await analyst.locator('tr[data-rule="rule_ru_watch"] .badge-shadow').waitFor();
    await analyst.getByText('Only admins can save rules.').waitFor();
    await visit(analyst, 'rules');
  });

  await step('rule editor: a type error marks its column', async () => {
    await admin.getByRole('link', { name: 'Rules' }).click();
    await admin.locator('#rules-table tbody tr').first().waitFor();
    // Hit counts over the seeded data: the KP rule matched the declined transactions.
    await admin.locator('tr[data-rule="rule_block_kp"] td.num').nth(1).filter({ hasText: String(seed.counts.decline) }).waitFor();
    await admin.getByRole('button', { name: 'New rule' }).click();
    await admin.getByLabel('Name').fill('Big amounts');
    await admin.getByLabel('Expression').fill("amount > 'x'");
    const mark = admin.locator('mark.expr-error');
    await mark.waitFor();
    // The server blames the comparison: "cannot compare int with string at column 8".
    assertEq(await mark.innerText(), '>', 'marked text');
    const status = admin.locator('#rule-expression-status');
    await status.getByText(/Error at column 8/).waitFor();
    assertEq(await admin.getByLabel('Expression').getAttribute('aria-invalid'), 'true', 'aria-invalid');
    await visit(admin, 'rules-editor-error');
  });

  await step('backtest a new rule and read the predicted numbers', async () => {
    await admin.getByLabel('Expression').fill('amount >= 50000');
    await admin.locator('#rule-expression-status').getByText('The expression is valid.').waitFor();
    await admin.getByLabel('Action').selectOption('decline');
    await admin.getByLabel('Reason code').fill('big_amount');
    await admin.getByLabel('Replay decisions of').selectOption({ label: 'Last hour' });
    await admin.getByRole('button', { name: 'Run backtest' }).click();
    await admin.locator('#bt-progress').waitFor();
    await admin.locator('#bt-result').waitFor({ timeout: 60_000 });
    assertEq(await admin.locator('#bt-percent').innerText(), '100%', 'progress');
    const cell = await admin.locator('#bt-outcomes tr[data-set="proposed"] td[data-outcome="decline"]').innerText();
    assertEq(cell.split('\n')[0].trim(), String(seed.expectedProposedDecline), 'proposed declines');
    const live = await admin.locator('#bt-outcomes tr[data-set="live"] td[data-outcome="decline"]').innerText();
    assertEq(live.split('\n')[0].trim(), String(seed.counts.decline), 'live declines');
    const change = await admin.locator('#bt-changes tr[data-change="approve->decline"] td.num').innerText();
    assertEq(change.trim(), String(seed.expectedApproveToDecline), 'approve → decline');
    assertEq(await admin.locator('#bt-changes tr[data-change="approve->decline"] .samples a').count(), seed.expectedApproveToDecline, 'sample links');
    await admin.locator('#bt-rules').getByText('Big amounts').waitFor();
    await visit(admin, 'rules-backtest');
  });

  await step('save the edited rule set', async () => {
    await admin.getByRole('button', { name: 'Save to live' }).click();
    await admin.getByText(/^Saved: rules version \d+ \(1 created, 0 updated, 0 deleted\)\./).waitFor();
    await admin.waitForFunction((n) => document.querySelectorAll('#rules-table tbody tr').length === n, seed.rules.length + 1);
    await admin.getByText('No unsaved changes.').waitFor();
  });

  const N = 2500;
  await step('lists: upload a file with a progress bar, then browse, search and remove', async () => {
    await admin.getByRole('link', { name: 'Lists' }).click();
    await admin.locator('#lists-table').getByRole('link', { name: 'blocked_emails' }).waitFor();
    await visit(admin, 'lists');
    await admin.getByLabel('New list name').fill('e2e_devices');
    await admin.getByRole('button', { name: 'Create…' }).click();
    await admin.getByRole('heading', { level: 1, name: 'List e2e_devices' }).waitFor();
    const lines = [];
    for (let i = 0; i < N; i++) lines.push(`  dev-${String(i).padStart(5, '0')}  `);
    lines.splice(10, 0, '', '   ', 'dev-00003'); // blanks and a duplicate
    const file = join(tmpdir(), `txv-e2e-${process.pid}.txt`);
    writeFileSync(file, lines.join('\r\n') + '\n');
    await admin.getByLabel('File (one entry a line)').setInputFiles(file);
    await admin.getByRole('button', { name: 'Upload', exact: true }).click();
    await admin.locator('#upload-percent', { hasText: '100%' }).waitFor();
    assertEq(await admin.locator('#upload-progress').getAttribute('value'), '100', 'progress bar value');
    await admin.locator('#upload-status', { hasText: `the list now has ${N.toLocaleString('en')} entries` }).waitFor();
    await admin.locator('#list-count', { hasText: N.toLocaleString('en') }).waitFor();
    await admin.locator('#entries-table tbody tr').first().waitFor();
    assertEq(await admin.locator('#entries-table tbody tr').count(), 100, 'entries page');
    await admin.getByLabel('Starts with').fill('dev-0012');
    await admin.getByRole('button', { name: 'Search' }).click();
    const entryRows = (n) => admin.waitForFunction((k) => document.querySelectorAll('#entries-table tbody tr').length === k, n);
    await admin.locator('#entries-total', { hasText: '10 entries on page 1 start with “dev-0012”' }).waitFor();
    await entryRows(10);
    await admin.getByRole('button', { name: 'Remove dev-00123' }).click();
    await admin.locator('#entries-total', { hasText: '9 entries on page 1 start with “dev-0012”' }).waitFor();
    await entryRows(9);
    await admin.locator('#list-count', { hasText: (N - 1).toLocaleString('en') }).waitFor();
    await visit(admin, 'list');
  });

  await step('audit log shows the changes', async () => {
    await admin.getByRole('link', { name: 'Audit log' }).click();
    await admin.locator('#audit-table tbody tr').first().waitFor();
    await admin.locator('#audit-table').getByText('e2e_devices').first().waitFor();
    await admin.locator('#audit-table').getByText('resolve').first().waitFor();
    await visit(admin, 'audit');
  });

  await step('dashboard: charts and rates over the last hour and day', async () => {
    await admin.getByRole('link', { name: 'Dashboard' }).click();
    await admin.locator('#stat-total').waitFor();
    assertEq((await admin.locator('#stat-total').innerText()).trim(), String(seed.total), 'decisions in the last hour');
    const rate = ((seed.counts.decline / seed.total) * 100).toFixed(1) + '%';
    assertEq((await admin.locator('#stat-decline-rate').innerText()).trim(), rate, 'decline rate');
    await admin.locator('canvas#chart-decisions').waitFor();
    await admin.locator('#top-rules').getByText('rule_block_kp').waitFor();
    await visit(admin, 'dashboard');
    await admin.getByLabel('Last day').check();
    await admin.locator('#stat-total').waitFor();
    await shot(admin, 'dashboard-24h');
  });

  await step('an ended session lands on the sign-in page with a clear message', async () => {
    await adminCtx.clearCookies(); // as when the session expires or its key is revoked
    await admin.getByRole('link', { name: 'Transactions' }).click();
    await admin.getByText('Your session has ended — sign in again.').waitFor();
    await admin.getByLabel('API key').waitFor();
  });

  if (REVOKE_KEY && REVOKE_KEY_ID && TXV_BIN) {
    await step('revoking the key ends its session: sign-in page with a clear message', async () => {
      const ctx = await browser.newContext({ viewport });
      const page = await ctx.newPage();
      watch(page, 'revoked');
      page.setDefaultTimeout(T);
      try {
        await signIn(page, REVOKE_KEY);
        await page.getByRole('heading', { level: 1, name: 'Review queue' }).waitFor();
        execFileSync(TXV_BIN, ['apikey', 'revoke', REVOKE_KEY_ID], { stdio: ['ignore', 'ignore', 'inherit'] });
        // Revocation is immediate on every replica; navigate until the API answers 401.
        const deadline = Date.now() + 10_000;
        const ended = page.getByText('Your session has ended — sign in again.');
        for (let i = 0; !(await ended.isVisible()); i++) {
          assert(Date.now() < deadline, 'the session still worked 10 s after its key was revoked');
          const link = page.getByRole('link', { name: i % 2 ? 'Transactions' : 'Audit log' });
          if (await link.isVisible()) await link.click();
          await page.waitForTimeout(200);
        }
        await page.getByLabel('API key').waitFor();
        await shot(page, 'session-ended');
      } finally {
        openPages.splice(openPages.indexOf(page), 1);
        await ctx.close();
      }
    });
  }

  await step('sign out', async () => {
    await analyst.getByRole('button', { name: 'Sign out' }).click();
    await analyst.getByText('You have signed out.').waitFor();
    await analyst.getByLabel('API key').waitFor();
    const probe = await analyst.evaluate(async () => (await fetch('/v1/sessions/current')).status);
    assertEq(probe, 401, 'session gone after sign-out');
    await shot(analyst, 'signed-out');
  });

  await step('no CSP violation or page error on any page', async () => {
    assert(problems.length === 0, problems.join('\n'));
  });
} finally {
  await browser.close();
}

const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length}/${results.length} steps passed; screenshots in ${SHOTS}`);
if (failed.length) {
  console.log(`failed: ${failed.map((f) => f.name).join('; ')}`);
  process.exit(1);
}
