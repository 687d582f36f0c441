// Grafana fleet dashboard (deploy/helm/txv/dashboards/txv-fleet.json, also reachable as
// deploy/grafana/txv-fleet.json): every metric its PromQL queries is one the txv binary exports
// (read from src/, and from a running build/txv when there is one), every query parses
// (promtool) and is narrowed by the namespace and pod variables, every panel uses the
// ${datasource} variable, and the chart ships the file unchanged in a ConfigMap that
// kube-prometheus-stack's Grafana sidecar picks up.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { CHART_DIR, DEPLOY_DIR, ENVS, KUBE_VERSION, REPO_DIR } from './lib/paths.mjs';
import { helm, render, valuesArgs, parseManifests } from './lib/helm.mjs';
import {
  allPanels, checkDashboardMetrics, dashboardQueries, exportedMetrics, metricNames, vectorSelectors,
} from './lib/grafana.mjs';

const DASHBOARD_FILE = path.join(CHART_DIR, 'dashboards', 'txv-fleet.json');
const DASHBOARD_LINK = path.join(DEPLOY_DIR, 'grafana', 'txv-fleet.json');
const CONFIGMAP_KEY = 'txv-fleet.json';
const DS_UIDS = new Set(['${datasource}', '$datasource']);
const PROMTOOL = process.env.PROMTOOL || 'promtool';
const BINARY = process.env.TXV_BINARY || path.join(REPO_DIR, 'build', 'txv');

const text = fs.readFileSync(DASHBOARD_FILE, 'utf8');
const dashboard = JSON.parse(text);
const exported = exportedMetrics();
const panels = allPanels(dashboard);
const queryPanels = panels.filter((p) => p.type !== 'row');

const listMissing = (missing) =>
  [...missing].map(([name, where]) => `  ${name}  (used by ${[...new Set(where.map((w) => w.replace(/ target \w+$/, '')))].join('; ')})`).join('\n');

describe('dashboard metrics are the ones txv exports', () => {
  test('the source parse finds the exported families', () => {
    // The families that exist since the embedded service; a parse that misses them is broken.
    for (const name of ['txv_decisions_total', 'txv_http_requests_total', 'txv_http_request_duration_seconds',
      'txv_db_pool_connections', 'txv_cache_errors_total', 'txv_bugs_total', 'txv_build_info']) {
      assert.ok(exported.has(name), `${name} not found in src/ (parser out of date?)`);
    }
    assert.equal(exported.get('txv_http_request_duration_seconds').type, 'histogram');
  });

  test('every metric in every expr is exported by the binary (src/)', () => {
    const { missing, wrong } = checkDashboardMetrics(dashboard, exported);
    assert.deepEqual(wrong, [], 'metrics queried with the wrong sample suffix');
    assert.ok(missing.size === 0,
      `the dashboard queries ${missing.size} metric(s) that txv does not export (no .Name("...") in src/, `
      + `no "# TYPE" line, not the bug counter of src/logging/bug.h):\n${listMissing(missing)}\n`
      + `exported: ${[...exported.keys()].sort().join(', ')}`);
  });

  test('the dashboard queries every family an operator needs', () => {
    const used = new Set(dashboardQueries(dashboard).flatMap((q) => metricNames(q.expr))
      .map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    for (const name of ['txv_decisions_total', 'txv_http_request_duration_seconds', 'txv_http_requests_total',
      'txv_cache_degraded', 'txv_cache_errors_total', 'txv_db_pool_connections', 'txv_redis_round_trip_seconds',
      'txv_db_round_trip_seconds', 'txv_unhandled_exceptions_total', 'txv_bugs_total', 'txv_accept_errors_total',
      'txv_build_info']) {
      assert.ok(used.has(name), `no panel shows ${name}`);
    }
  });

  test('the check bites: an unknown metric and a histogram without _bucket are reported', () => {
    const broken = structuredClone(dashboard);
    const t = allPanels(broken).find((p) => p.targets?.length).targets[0];
    t.expr = `sum(rate(txv_made_up_total{namespace="$namespace", pod=~"$pod"}[$__rate_interval])) + ${t.expr}`;
    allPanels(broken).filter((p) => p.targets?.length)[1].targets[0].expr = 'sum(txv_http_request_duration_seconds)';
    const { missing, wrong } = checkDashboardMetrics(broken, exported);
    assert.ok(missing.has('txv_made_up_total'), JSON.stringify([...missing.keys()]));
    assert.ok(wrong.some((w) => w.includes('txv_http_request_duration_seconds is a histogram')), JSON.stringify(wrong));
    const gaugeBucket = checkDashboardMetrics({ panels: [{ id: 1, targets: [{ refId: 'A', expr: 'txv_build_info_bucket' }] }] }, exported);
    assert.ok(gaugeBucket.wrong.some((w) => /txv_build_info is a gauge/.test(w)), JSON.stringify(gaugeBucket));
  });

  test('the PromQL scanner tells metrics from functions, labels, keywords and variables', () => {
    const names = (e) => vectorSelectors(e).map((v) => v.name);
    assert.deepEqual(names('histogram_quantile(0.99, sum by (le, pod) (rate(a_bucket{x="}"}[$__rate_interval])))'), ['a_bucket']);
    assert.deepEqual(names('sum(rate(a_total[5m])) / ignoring (le) group_left (pod) b > bool 0.5 and on (pod) c offset 1h'), ['a_total', 'b', 'c']);
    assert.deepEqual(names('count(count by (version) (d{n="$namespace"})) + {__name__="e"} + ${x} + 1e3'), ['d', 'e']);
    assert.deepEqual(names('label_replace(f, "dst", "$1", "src", "(.*)") or vector(1)'), ['f']);
  });

  test('a running build/txv exports nothing the source parse misses', async (t) => {
    if (!fs.existsSync(BINARY)) return t.skip(`${path.relative(REPO_DIR, BINARY)} not built`);
    const families = await scrape(BINARY);
    const unseen = families.filter((n) => n.startsWith('txv_') && !exported.has(n));
    assert.deepEqual(unseen, [],
      'families the binary exports but the source parse does not find (or the binary is older than src/: rebuild it)');
    const { missing } = checkDashboardMetrics(dashboard, new Map(families.map((n) => [n, { type: 'unknown' }])));
    if (missing.size) t.diagnostic(`not exported by this build/txv (embedded mode) yet: ${[...missing.keys()].join(', ')}`);
  });
});

describe('dashboard structure', () => {
  test('Grafana schema, identity and template variables', () => {
    assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
    assert.equal(dashboard.uid, 'txv-fleet');
    assert.ok(dashboard.title);
    assert.equal(dashboard.id ?? null, null, 'a provisioned dashboard must not carry a database id');
    const vars = Object.fromEntries((dashboard.templating?.list || []).map((v) => [v.name, v]));
    assert.equal(vars.datasource?.type, 'datasource');
    assert.equal(vars.datasource?.query, 'prometheus');
    for (const name of ['namespace', 'pod']) {
      assert.equal(vars[name]?.type, 'query', `${name} variable`);
      assert.ok(DS_UIDS.has(vars[name].datasource?.uid), `${name} variable must query \${datasource}`);
    }
    assert.ok(vars.pod.includeAll && vars.pod.multi && vars.pod.allValue === '.*', 'pod: multi-value with All = .*');
    assert.match(JSON.stringify(vars.pod.query), /namespace=\\"\$namespace\\"/, 'pod values limited to the namespace');
  });

  test('every panel queries Prometheus through the ${datasource} variable', () => {
    assert.ok(queryPanels.length >= 15, `only ${queryPanels.length} panels`);
    const bad = [];
    for (const p of panels) {
      if (p.type === 'row') {
        if (p.targets?.length) bad.push(`row "${p.title}" has queries`);
        continue;
      }
      if (p.datasource?.type !== 'prometheus' || !DS_UIDS.has(p.datasource?.uid)) bad.push(`panel ${p.id} "${p.title}": datasource ${JSON.stringify(p.datasource)}`);
      if (!p.targets?.length) bad.push(`panel ${p.id} "${p.title}": no queries`);
      for (const t of p.targets || []) {
        if (t.datasource && (t.datasource.type !== 'prometheus' || !DS_UIDS.has(t.datasource.uid))) bad.push(`panel ${p.id} target ${t.refId}: datasource ${JSON.stringify(t.datasource)}`);
        if (!t.expr?.trim()) bad.push(`panel ${p.id} target ${t.refId}: empty expr`);
      }
    }
    assert.deepEqual(bad, []);
  });

  test('every selector is narrowed to $namespace and $pod', () => {
    const bad = [];
    for (const q of dashboardQueries(dashboard).filter((x) => x.kind === 'panel')) {
      for (const v of vectorSelectors(q.expr)) {
        const m = v.matchers.replace(/\s+/g, '');
        if (!m.includes('namespace="$namespace"') || !m.includes('pod=~"$pod"')) bad.push(`${q.where}: ${v.name}{${v.matchers}}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  test('panel ids are unique and the grid has no overlaps', () => {
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'duplicate panel ids');
    const cells = new Map();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos || {};
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `panel ${p.id}: gridPos ${JSON.stringify(p.gridPos)}`);
      for (let r = y; r < y + h; r++) {
        for (let c = x; c < x + w; c++) {
          const k = `${r},${c}`;
          assert.ok(!cells.has(k), `panels ${cells.get(k)} and ${p.id} overlap at row ${r}, column ${c}`);
          cells.set(k, p.id);
        }
      }
    }
  });

  test('promtool parses every query', (t) => {
    const rules = dashboardQueries(dashboard).map((q, i) => ({
      record: `txv_dashboard:query_${i}`,
      // Grafana's substitutions, with values of the right shape.
      expr: q.expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s').replaceAll('$__range', '1h')
        .replaceAll('$namespace', 'txv').replaceAll('$pod', '.*'),
    }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txv-dashboard-'));
    try {
      const file = path.join(dir, 'dashboard-queries.yaml');
      fs.writeFileSync(file, stringify({ groups: [{ name: 'txv-dashboard', rules }] }));
      let out;
      try {
        out = execFileSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        if (e.code === 'ENOENT') return t.skip(`promtool not found (${PROMTOOL}); scripts/test-deploy.sh installs it`);
        assert.fail(`promtool rejects a dashboard query:\n${e.stdout || ''}${e.stderr || ''}`);
      }
      assert.match(out, /SUCCESS: \d+ rules found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('deploy/grafana/txv-fleet.json is the chart\'s file', () => {
    assert.equal(fs.readFileSync(DASHBOARD_LINK, 'utf8'), text, 'deploy/grafana/txv-fleet.json differs from deploy/helm/txv/dashboards/txv-fleet.json');
    assert.ok(!fs.lstatSync(DASHBOARD_FILE).isSymbolicLink(), 'the chart must hold the file itself (helm package does not follow links out of the chart)');
    assert.ok(text.endsWith('}\n') && !text.endsWith('\n\n'), 'one final newline');
  });
});

describe('Helm ships the dashboard to Grafana', () => {
  let addon;
  before(() => {
    addon = parse(fs.readFileSync(path.join(DEPLOY_DIR, 'addons', 'kube-prometheus-stack-values.yaml'), 'utf8'));
  });
  const dashboardConfigMaps = (docs) => docs.filter((d) => d.kind === 'ConfigMap' && d.data?.[CONFIGMAP_KEY] !== undefined);

  for (const env of ENVS) {
    test(`${env}: the ConfigMap carries the file unchanged, as valid JSON`, () => {
      const cms = dashboardConfigMaps(render(env));
      assert.equal(cms.length, 1, 'exactly one dashboard ConfigMap');
      const data = cms[0].data[CONFIGMAP_KEY];
      assert.deepEqual(JSON.parse(data), dashboard);
      assert.equal(data, text);
      assert.ok(Buffer.byteLength(data) < 1024 * 1024 - 4096, 'ConfigMaps hold at most 1 MiB');
    });

    test(`${env}: the Grafana sidecar of kube-prometheus-stack selects it`, () => {
      const cm = dashboardConfigMaps(render(env))[0];
      const sidecar = addon.grafana?.sidecar?.dashboards;
      assert.equal(addon.grafana?.enabled, true, 'kube-prometheus-stack: grafana.enabled');
      assert.equal(sidecar?.enabled, true, 'kube-prometheus-stack: grafana.sidecar.dashboards.enabled');
      assert.ok(sidecar.label, 'kube-prometheus-stack: grafana.sidecar.dashboards.label');
      assert.equal(cm.metadata.labels?.[sidecar.label], String(sidecar.labelValue ?? '1'), `ConfigMap label ${sidecar.label}`);
      assert.ok(sidecar.searchNamespace === 'ALL' || [].concat(sidecar.searchNamespace).includes('txv'), 'the sidecar must watch the release namespace');
      if (sidecar.folderAnnotation) assert.ok(cm.metadata.annotations?.[sidecar.folderAnnotation], `annotation ${sidecar.folderAnnotation}`);
      assert.equal(addon.grafana.sidecar.datasources?.enabled, true, 'a provisioned Prometheus datasource');
    });
  }

  test('values-prod.yaml enables it explicitly', () => {
    const prod = parse(fs.readFileSync(path.join(CHART_DIR, 'values-prod.yaml'), 'utf8'));
    assert.equal(prod.grafana?.dashboard?.enabled, true);
  });

  test('grafana.dashboard.enabled=false renders no dashboard', () => {
    const docs = parseManifests(helm(['template', 'txv', CHART_DIR, '--kube-version', KUBE_VERSION, ...valuesArgs('prod'),
      '--set', 'grafana.dashboard.enabled=false']));
    assert.equal(dashboardConfigMaps(docs).length, 0);
  });

  test('the values schema rejects a misspelled key and a label map that is not strings', () => {
    const lint = (...set) => {
      try {
        helm(['lint', '--strict', CHART_DIR, ...valuesArgs('prod'), ...set.flatMap((s) => ['--set', s])]);
        return '';
      } catch (e) {
        return `${e.stdout || ''}${e.stderr || ''}`;
      }
    };
    assert.match(lint('grafana.dashbaord.enabled=true'), /dashbaord/);
    assert.match(lint('grafana.dashboard.labels.grafana_dashboard=1'), /grafana_dashboard/);
  });
});

// Starts build/txv embedded (SQLite in a temporary directory) on a free loopback port, reads
// /metrics, stops it. Returns the family names of its "# TYPE" lines.
async function scrape(binary) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'txv-scrape-'));
  const port = await new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    }).on('error', reject);
  });
  const env = { PATH: process.env.PATH, TXV_LISTEN: `127.0.0.1:${port}`, TXV_DATABASE_URL: `sqlite:${dir}/txv.db`, TXV_LOG_LEVEL: 'warn' };
  const child = spawn(binary, ['serve'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  child.on('exit', (code, signal) => { exited = code ?? signal; });
  try {
    const deadline = Date.now() + 20000;
    for (;;) {
      if (exited !== null) throw new Error(`${binary} serve exited (${exited}) before serving /metrics:\n${stderr}`);
      try {
        // Twice: a family without samples (txv_http_requests_total before any request) is not
        // rendered, and the first scrape is that request.
        if ((await fetch(`http://127.0.0.1:${port}/metrics`)).ok) {
          const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return [...body.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]);
        }
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`${binary} serve did not answer /metrics within 20 s:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    if (exited === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
