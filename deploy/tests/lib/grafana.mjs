// Helpers for the Grafana dashboard check (tests/grafana.test.mjs): the metric families the txv
// binary exports, read from its C++ source; the PromQL of a dashboard; the vector selectors
// (metric name + label matchers) in a PromQL expression.
import fs from 'node:fs';
import path from 'node:path';
import { REPO_DIR } from './paths.mjs';

export const SRC_DIR = path.join(REPO_DIR, 'src');
export const BUG_HEADER = path.join(SRC_DIR, 'logging', 'bug.h');

const SAMPLE_SUFFIXES = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] };
const rel = (p) => path.relative(REPO_DIR, p);

function sourceFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    // Unit tests register fake families of their own; they are not what the binary exports.
    else if (/\.(cc|h|hpp|cpp)$/.test(e.name) && !/_test\.(cc|h|hpp|cpp)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

// Map name -> { type, where } of every txv_* family the binary exports, from its source:
//  - prometheus-cpp builders, `.Name("txv_...")` (type from the Build<Type>() it follows, when
//    it directly does; "unknown" otherwise);
//  - families rendered by hand into the exposition text (`# TYPE txv_... <type>`, how
//    metrics.cc appends txv_bugs_total);
//  - the bug counter src/logging/bug.h documents ("rendered as txv_bugs_total").
export function exportedMetrics(srcDir = SRC_DIR) {
  const found = new Map();
  const add = (name, type, where) => {
    const prev = found.get(name);
    if (!prev || prev.type === 'unknown') found.set(name, { type, where: prev ? `${prev.where}, ${where}` : where });
  };
  for (const file of sourceFiles(srcDir)) {
    const text = fs.readFileSync(file, 'utf8');
    const lineOf = (i) => text.slice(0, i).split('\n').length;
    for (const m of text.matchAll(/Build(Counter|Gauge|Histogram|Summary|Info)\s*\(\s*\)\s*\.Name\(\s*"(txv_[A-Za-z0-9_:]+)"/g)) {
      add(m[2], m[1].toLowerCase(), `${rel(file)}:${lineOf(m.index)}`);
    }
    for (const m of text.matchAll(/\.Name\(\s*"(txv_[A-Za-z0-9_:]+)"/g)) add(m[1], 'unknown', `${rel(file)}:${lineOf(m.index)}`);
    for (const m of text.matchAll(/#\s*TYPE\s+(txv_[A-Za-z0-9_:]+)\s+(counter|gauge|histogram|summary|untyped)\b/g)) {
      add(m[1], m[2], `${rel(file)}:${lineOf(m.index)}`);
    }
  }
  if (fs.existsSync(BUG_HEADER)) {
    const text = fs.readFileSync(BUG_HEADER, 'utf8');
    for (const m of text.matchAll(/\b(txv_[a-z0-9_]+_total)\b/g)) add(m[1], 'counter', rel(BUG_HEADER));
  }
  return found;
}

// Every panel, including those nested in collapsed rows.
export function allPanels(dashboard) {
  return (dashboard.panels || []).flatMap((p) => [p, ...(p.panels || [])]);
}

// [{ where, expr, kind }] for every query in the dashboard: panel targets (kind "panel") and
// query variables (kind "variable"; label_values(SELECTOR, label) yields SELECTOR).
export function dashboardQueries(dashboard) {
  const out = [];
  for (const p of allPanels(dashboard)) {
    for (const t of p.targets || []) out.push({ where: `panel ${p.id} "${p.title}" target ${t.refId}`, expr: t.expr ?? '', kind: 'panel', panel: p, target: t });
  }
  for (const v of dashboard.templating?.list || []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
    const lv = /^\s*label_values\(\s*([\s\S]*?)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.exec(q);
    if (lv) out.push({ where: `variable ${v.name}`, expr: lv[1], kind: 'variable', variable: v });
    else if (!/^\s*label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/.test(q)) {
      const r = /^\s*query_result\(([\s\S]*)\)\s*$/.exec(q);
      out.push({ where: `variable ${v.name}`, expr: r ? r[1] : q, kind: 'variable', variable: v });
    }
  }
  return out;
}

// Aggregation operators are keywords: `sum by (le) (...)` puts the grouping before the parens.
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2',
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk',
  'topk', 'quantile', 'limitk', 'limit_ratio']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

// The vector selectors of a PromQL expression, as [{ name, matchers }]: name is the metric name
// (from the identifier or a __name__="..." matcher; '' when neither), matchers the text between
// the braces ('' when there are none). Grafana variables ($x, ${x}, [[x]]) are skipped; function
// and aggregation names, grouping labels, keywords, numbers and durations are not metrics.
export function vectorSelectors(expr) {
  const s = String(expr);
  const out = [];
  let i = 0;
  const ident = /[A-Za-z_:][A-Za-z0-9_:]*/y;
  const skipSpace = () => { while (i < s.length && /\s/.test(s[i])) i++; };
  const skipString = () => {
    const q = s[i++];
    while (i < s.length && s[i] !== q) i += s[i] === '\\' && q !== '`' ? 2 : 1;
    i++;
  };
  const readBraces = () => { // at '{'; returns the text inside
    const start = ++i;
    while (i < s.length && s[i] !== '}') {
      if (s[i] === '"' || s[i] === "'" || s[i] === '`') skipString();
      else i++;
    }
    return s.slice(start, i++);
  };
  const skipParens = () => { // at '('
    let depth = 0;
    do {
      if (s[i] === '(') depth++;
      else if (s[i] === ')') depth--;
      i++;
    } while (i < s.length && depth > 0);
  };
  const nameMatcher = (m) => /(?:^|,)\s*__name__\s*=\s*"([^"]*)"/.exec(m)?.[1] ?? '';
  while (i < s.length) {
    const c = s[i];
    if (c === '"' || c === "'" || c === '`') skipString();
    else if (c === '#') { while (i < s.length && s[i] !== '\n') i++; }
    else if (c === '$') { // $var, ${var}, ${var:fmt}, $__rate_interval
      i++;
      if (s[i] === '{') { while (i < s.length && s[i] !== '}') i++; i++; }
      else { ident.lastIndex = i; if (ident.exec(s)) i = ident.lastIndex; }
    } else if (c === '[') { // range, subquery, or a [[var]]
      while (i < s.length && s[i] !== ']') i++;
      while (s[i] === ']') i++;
    } else if (c === '{') { // a selector without a metric name: {__name__="..."}
      const matchers = readBraces();
      out.push({ name: nameMatcher(matchers), matchers });
    }
    else if (/[0-9.]/.test(c)) { while (i < s.length && /[0-9A-Za-z._]/.test(s[i])) i++; }
    else if (/[A-Za-z_:]/.test(c)) {
      ident.lastIndex = i;
      const word = ident.exec(s)[0];
      i = ident.lastIndex;
      const lower = word.toLowerCase();
      skipSpace();
      if (GROUPING.has(lower)) { if (s[i] === '(') skipParens(); }
      else if (s[i] === '(') { /* function or aggregation: its arguments are scanned next */ }
      else if (!KEYWORDS.has(lower)) {
        const matchers = s[i] === '{' ? readBraces() : '';
        out.push({ name: word, matchers });
      }
    } else i++;
  }
  return out;
}

export const metricNames = (expr) => [...new Set(vectorSelectors(expr).map((v) => v.name).filter(Boolean))];

// Checks every metric a dashboard queries against the exported families. Returns
// { missing: Map(base name -> [where...]), wrong: [message...] }.
export function checkDashboardMetrics(dashboard, exported) {
  const missing = new Map();
  const wrong = [];
  for (const q of dashboardQueries(dashboard)) {
    for (const name of metricNames(q.expr)) {
      const fam = exported.get(name);
      if (fam) {
        if (SAMPLE_SUFFIXES[fam.type]) wrong.push(`${q.where}: ${name} is a ${fam.type}; query ${name}_bucket, _sum or _count`);
        continue;
      }
      const suffix = ['_bucket', '_sum', '_count'].find((x) => name.endsWith(x));
      const base = suffix ? name.slice(0, -suffix.length) : name;
      const baseFam = suffix && exported.get(base);
      if (baseFam) {
        if (baseFam.type !== 'unknown' && !(SAMPLE_SUFFIXES[baseFam.type] || []).includes(suffix)) {
          wrong.push(`${q.where}: ${name} does not exist, ${base} is a ${baseFam.type}`);
        }
        continue;
      }
      if (!missing.has(base)) missing.set(base, []);
      missing.get(base).push(q.where);
    }
  }
  return { missing, wrong };
}
