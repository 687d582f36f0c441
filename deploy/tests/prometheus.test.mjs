// Prometheus rules: the PrometheusRule the chart renders for prod is extracted into a plain
// rules file and checked with promtool (`check rules`, then the unit tests in
// deploy/prometheus/*.test.yaml). Every alert must have a test in which it fires and one in
// which it stays silent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { DEPLOY_DIR } from './lib/paths.mjs';
import { render } from './lib/helm.mjs';

const PROMTOOL = process.env.PROMTOOL || 'promtool';
const TEST_DIR = path.join(DEPLOY_DIR, 'prometheus');
const TESTS = fs.readdirSync(TEST_DIR).filter((f) => f.endsWith('.test.yaml')).sort();
let dir;
let groups;

const promtool = (...args) => {
  try {
    return { ok: true, out: execFileSync(PROMTOOL, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error(`promtool not found (${PROMTOOL}); scripts/test-deploy.sh installs it`);
    return { ok: false, out: `${e.stdout || ''}${e.stderr || ''}` };
  }
};

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txv-rules-'));
  const rule = render('prod').find((d) => d.kind === 'PrometheusRule');
  assert.ok(rule, 'chart renders no PrometheusRule');
  groups = rule.spec.groups;
  fs.writeFileSync(path.join(dir, 'txv-rules.yaml'), stringify({ groups }));
  for (const f of TESTS) fs.copyFileSync(path.join(TEST_DIR, f), path.join(dir, f));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('promtool check rules accepts the rendered rules', () => {
  const r = promtool('check', 'rules', 'txv-rules.yaml');
  assert.ok(r.ok, r.out);
  assert.match(r.out, /SUCCESS/);
});

test('promtool test rules passes', () => {
  assert.ok(TESTS.length > 0, 'no rule tests');
  const r = promtool('test', 'rules', ...TESTS);
  assert.ok(r.ok, r.out);
  assert.match(r.out, /SUCCESS/);
});

test('every alert has a unit test in which it fires and one in which it stays silent', () => {
  const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert).map((r) => r.alert);
  const fires = new Set();
  const silent = new Set();
  const cases = TESTS.flatMap((f) => parse(fs.readFileSync(path.join(TEST_DIR, f), 'utf8')).tests);
  for (const t of cases) {
    for (const a of t.alert_rule_test || []) (a.exp_alerts?.length ? fires : silent).add(a.alertname);
  }
  assert.deepEqual(alerts.filter((a) => !fires.has(a)), [], 'alerts without a firing test');
  assert.deepEqual(alerts.filter((a) => !silent.has(a)), [], 'alerts without a silent test');
});

test('a broken threshold makes promtool fail (the tests bite)', () => {
  const broken = structuredClone(groups);
  const rule = broken.flatMap((g) => g.rules).find((r) => r.alert === 'TxvCacheErrors');
  rule.expr = rule.expr.replace(/> [0-9.]+$/, '> 100');
  fs.writeFileSync(path.join(dir, 'txv-rules.yaml'), stringify({ groups: broken }));
  try {
    const r = promtool('test', 'rules', 'alerts.test.yaml');
    assert.ok(!r.ok, 'promtool passed with a broken rule');
    assert.match(r.out, /TxvCacheErrors/);
  } finally {
    fs.writeFileSync(path.join(dir, 'txv-rules.yaml'), stringify({ groups }));
  }
});
