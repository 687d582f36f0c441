import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ChartConfiguration } from 'chart.js';
import { api } from '../api';
import { ChartCanvas } from '../components/Chart';
import { ErrorBox, Loading, ModeBadge, PageTitle } from '../components/common';
import { formatCount, formatRate, formatTime } from '../lib/format';
import { decisionSeries, perMinute, rate, topRules } from '../lib/stats';
import { useSession } from '../session';
import type { Stats } from '../types';

// Colours with at least 3:1 contrast against white (WCAG non-text contrast).
const COLORS = { approve: '#2f7d32', decline: '#b3261e', review: '#8a5a00' };

export function Dashboard() {
  const session = useSession();
  const [windowName, setWindowName] = useState<'1h' | '24h'>('1h');
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let cancelled = false;
    const load = () =>
      api
        .get<Stats>(`/v1/stats?window=${windowName}`)
        .then((s) => {
          if (!cancelled) {
            setStats(s);
            setError(null);
          }
        })
        .catch((e) => !cancelled && setError(e));
    setStats(null);
    void load();
    const t = setInterval(load, 30_000);
    return () => {
      cancelled = true;
      clearInterval(t);
    };
  }, [windowName]);

  const series = useMemo(() => (stats ? decisionSeries(stats) : null), [stats]);
  const top = useMemo(() => (stats ? topRules(stats, 10) : []), [stats]);

  const decisionsConfig = useMemo<ChartConfiguration<'bar'> | null>(
    () =>
      series && {
        type: 'bar',
        data: {
          labels: series.labels,
          datasets: (['approve', 'decline', 'review'] as const).map((o) => ({
            label: o,
            data: series[o],
            backgroundColor: COLORS[o],
            stack: 'd',
          })),
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          scales: {
            x: { stacked: true, ticks: { maxTicksLimit: 12 } },
            y: { stacked: true, beginAtZero: true, title: { display: true, text: 'decisions / minute' } },
          },
        },
      },
    [series],
  );

  const rulesConfig = useMemo<ChartConfiguration<'bar'> | null>(
    () =>
      top.length > 0
        ? {
            type: 'bar',
            data: {
              labels: top.map((r) => (r.mode === 'shadow' ? `${r.ruleId} (shadow)` : r.ruleId)),
              datasets: [{ label: 'matches', data: top.map((r) => r.matches), backgroundColor: '#1d4e89' }],
            },
            options: {
              indexAxis: 'y',
              responsive: true,
              maintainAspectRatio: false,
              plugins: { legend: { display: false } },
              scales: { x: { beginAtZero: true } },
            },
          }
        : null,
    [top],
  );

  const t = stats?.totals;
  return (
    <>
      <PageTitle>Dashboard</PageTitle>
      <fieldset class="segmented">
        <legend>Window</legend>
        {(['1h', '24h'] as const).map((w) => (
          <label key={w}>
            <input type="radio" name="window" value={w} checked={windowName === w} onChange={() => setWindowName(w)} />
            {w === '1h' ? 'Last hour' : 'Last day'}
          </label>
        ))}
      </fieldset>
      <ErrorBox error={error} role={session.role} />
      {!stats && !error && <Loading what="Loading statistics" />}
      {stats && t && (
        <>
          <p class="muted small">
            {formatTime(stats.since)} to {formatTime(stats.until)}, buckets of {Math.round(stats.bucket_seconds / 60)} min.
          </p>
          <ul class="tiles" aria-label="Key figures">
            <li>
              <span class="tile-label">Decisions</span>
              <span class="tile-value" id="stat-total">{formatCount(t.total)}</span>
              <span class="small muted">{perMinute(stats)} / min</span>
            </li>
            <li>
              <span class="tile-label">Decline rate</span>
              <span class="tile-value" id="stat-decline-rate">{formatRate(stats.decline_rate ?? rate(t.decline, t.total))}</span>
              <span class="small muted">{formatCount(t.decline)} declined</span>
            </li>
            <li>
              <span class="tile-label">Review rate</span>
              <span class="tile-value" id="stat-review-rate">{formatRate(stats.review_rate ?? rate(t.review, t.total))}</span>
              <span class="small muted">{formatCount(t.review)} to review</span>
            </li>
            <li>
              <span class="tile-label">p99 latency</span>
              <span class="tile-value" id="stat-p99">{stats.latency.p99_ms === null ? '—' : `${stats.latency.p99_ms} ms`}</span>
              <span class="small muted">
                p50 {stats.latency.p50_ms === null ? '—' : `${stats.latency.p50_ms} ms`}, {formatCount(stats.latency.count)} requests
                {stats.latency.scope === 'replica' ? ' (this replica)' : ''}
              </span>
            </li>
          </ul>
          <section aria-labelledby="chart-decisions-h">
            <h2 id="chart-decisions-h">Decisions per minute by outcome</h2>
            {decisionsConfig && (
              <ChartCanvas
                id="chart-decisions"
                config={decisionsConfig}
                label={`Stacked bar chart of decisions per minute by outcome; ${formatCount(t.approve)} approved, ${formatCount(t.decline)} declined, ${formatCount(t.review)} to review in the window. The data is in the table below.`}
              />
            )}
            {series && (
              <details>
                <summary>Decisions per minute as a table</summary>
                <table class="compact">
                  <thead>
                    <tr>
                      <th scope="col">Bucket (UTC)</th>
                      <th scope="col">approve</th>
                      <th scope="col">decline</th>
                      <th scope="col">review</th>
                    </tr>
                  </thead>
                  <tbody>
                    {series.labels.map((l, i) => (
                      <tr key={`${l}-${i}`}>
                        <th scope="row">{l}</th>
                        <td class="num">{series.approve[i]}</td>
                        <td class="num">{series.decline[i]}</td>
                        <td class="num">{series.review[i]}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </details>
            )}
          </section>
          <section aria-labelledby="chart-rules-h">
            <h2 id="chart-rules-h">Top matching rules</h2>
            {rulesConfig ? (
              <ChartCanvas id="chart-rules" config={rulesConfig} label="Bar chart of the rules with most matches; the data is in the table below." />
            ) : (
              <p class="muted">No rule matched in this window.</p>
            )}
            {top.length > 0 && (
              <table class="compact" id="top-rules">
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">Mode</th>
                    <th scope="col">Matches</th>
                  </tr>
                </thead>
                <tbody>
                  {top.map((r) => (
                    <tr key={r.ruleId}>
                      <th scope="row">
                        <code>{r.ruleId}</code>
                      </th>
                      <td>
                        <ModeBadge mode={r.mode} />
                      </td>
                      <td class="num">{formatCount(r.matches)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </>
  );
}
