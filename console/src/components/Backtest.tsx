import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, seg } from '../api';
import { amountsOf, changeRows, labelRows, outcomeRows, percent, ruleRows } from '../lib/backtest';
import { formatAmount, formatCount, formatRate } from '../lib/format';
import { txHref } from '../lib/route';
import type { BacktestJob, BacktestResult, Outcome, RuleBody } from '../types';
import { OUTCOMES } from '../types';
import { ErrorBox } from './common';

const WINDOWS = [
  { value: '3600', label: 'Last hour' },
  { value: '86400', label: 'Last 24 hours' },
  { value: '604800', label: 'Last 7 days' },
  { value: '2592000', label: 'Last 30 days' },
];

export function BacktestPanel({ rules, role }: { rules: () => RuleBody[]; role: string }) {
  const [windowSec, setWindowSec] = useState('86400');
  const [merchant, setMerchant] = useState('');
  const [job, setJob] = useState<BacktestJob | null>(null);
  const [error, setError] = useState<unknown>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const alive = useRef(true);

  useEffect(
    () => () => {
      alive.current = false;
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );

  function poll(id: string) {
    timer.current = setTimeout(async () => {
      try {
        const j = await api.get<BacktestJob>(`/v1/backtests/${seg(id)}`);
        if (!alive.current) return;
        setJob(j);
        if (j.status === 'running') poll(id);
      } catch (e) {
        if (alive.current) setError(e);
      }
    }, 400);
  }

  async function start(e: Event) {
    e.preventDefault();
    setError(null);
    setJob(null);
    const until = new Date();
    const since = new Date(until.getTime() - Number(windowSec) * 1000);
    const body: Record<string, unknown> = {
      rules: rules(),
      since: since.toISOString(),
      until: until.toISOString(),
      replace_all: true,
    };
    if (merchant.trim()) body.merchant_id = merchant.trim();
    try {
      const j = await api.post<BacktestJob>('/v1/backtests', body);
      setJob(j);
      if (j.status === 'running') poll(j.id);
    } catch (err) {
      setError(err);
    }
  }

  async function cancel() {
    if (!job) return;
    try {
      await api.del(`/v1/backtests/${seg(job.id)}`);
    } catch (err) {
      if ((err as ApiError).status !== 409) setError(err);
    }
  }

  const pct = percent(job?.status === 'done' ? 1 : job?.progress);
  return (
    <section class="backtest" aria-labelledby="bt-h">
      <h2 id="bt-h">Backtest the proposed set</h2>
      <form class="inline-form" onSubmit={start}>
        <div>
          <label for="bt-window">Replay decisions of</label>
          <select id="bt-window" value={windowSec} onChange={(e) => setWindowSec((e.target as HTMLSelectElement).value)}>
            {WINDOWS.map((w) => (
              <option key={w.value} value={w.value}>
                {w.label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="bt-merchant">Merchant (optional)</label>
          <input id="bt-merchant" value={merchant} onInput={(e) => setMerchant((e.target as HTMLInputElement).value)} />
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={job?.status === 'running'}>
            Run backtest
          </button>
          {job?.status === 'running' && (
            <button type="button" onClick={() => void cancel()}>
              Cancel
            </button>
          )}
        </div>
      </form>
      <ErrorBox error={error} role={role} />
      {job && (
        <div class="bt-status">
          <label for="bt-progress">
            Backtest {job.id}: {job.status}
            {job.transactions !== undefined ? `, ${formatCount(job.transactions)} decisions replayed` : ''}
          </label>
          <progress id="bt-progress" max={100} value={pct} aria-valuetext={`${pct}%`}>
            {pct}%
          </progress>
          <span aria-live="polite" id="bt-percent">
            {pct}%
          </span>
          {job.status === 'failed' && (
            <div class="error" role="alert">
              The backtest failed: {job.error ?? 'no reason given'}
            </div>
          )}
          {job.status === 'cancelled' && <p role="status">The backtest was cancelled.</p>}
        </div>
      )}
      {job?.status === 'done' && job.result && <BacktestResultView r={job.result} />}
    </section>
  );
}

function AmountList({ r, set, o }: { r: BacktestResult; set: 'actual' | 'live' | 'proposed'; o: Outcome }) {
  const a = amountsOf(r, set, o);
  if (!a.length) return null;
  return <div class="small muted">{a.map(([c, n]) => formatAmount(n, c)).join(', ')}</div>;
}

export function BacktestResultView({ r }: { r: BacktestResult }) {
  const rows = outcomeRows(r);
  const changes = changeRows(r);
  const rules = ruleRows(r);
  const labels = labelRows(r);
  return (
    <div class="bt-result" id="bt-result">
      <h3>Outcomes</h3>
      <table id="bt-outcomes">
        <thead>
          <tr>
            <th scope="col">Rule set</th>
            {OUTCOMES.map((o) => (
              <th scope="col" key={o}>
                {o}
              </th>
            ))}
            <th scope="col">Total</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.set} data-set={row.set}>
              <th scope="row">{row.label}</th>
              {OUTCOMES.map((o) => (
                <td class="num" key={o} data-outcome={o}>
                  {formatCount(row.counts[o])}
                  <AmountList r={r} set={row.set} o={o} />
                </td>
              ))}
              <td class="num">{formatCount(row.total)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Changes, live → proposed</h3>
      {changes.length === 0 ? (
        <p class="muted">No decision would change.</p>
      ) : (
        <table id="bt-changes">
          <thead>
            <tr>
              <th scope="col">Change</th>
              <th scope="col">Transactions</th>
              <th scope="col">Samples</th>
            </tr>
          </thead>
          <tbody>
            {changes.map((c) => (
              <tr key={c.key} data-change={c.key}>
                <th scope="row">
                  {c.from} → {c.to}
                </th>
                <td class="num">{formatCount(c.count)}</td>
                <td>
                  <ul class="samples">
                    {(r.samples?.[c.key] ?? []).map((s) => (
                      <li key={`${s.merchant_id}/${s.transaction_id}`}>
                        <a href={txHref(s.merchant_id, s.transaction_id)}>
                          {s.merchant_id} / {s.transaction_id}
                        </a>
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Matches per rule</h3>
      <table id="bt-rules">
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Live</th>
            <th scope="col">Proposed</th>
            <th scope="col">Difference</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((x) => (
            <tr key={x.key}>
              <th scope="row">
                {x.name} {x.ruleId ? <code class="muted">{x.ruleId}</code> : <span class="badge badge-new">new</span>}
                {x.status === 'removed' && <span class="badge badge-removed">removed</span>}
              </th>
              <td class="num">{x.live === null ? '—' : formatCount(x.live)}</td>
              <td class="num">{x.proposed === null ? '—' : formatCount(x.proposed)}</td>
              <td class="num">{x.delta === null ? '—' : x.delta > 0 ? `+${x.delta}` : String(x.delta)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Against labels</h3>
      <p class="small muted">
        {formatCount(r.labels.fraud.total)} transactions labelled fraud, {formatCount(r.labels.not_fraud.total)} not fraud.
        Stopped = declined or sent to review.
      </p>
      <table id="bt-labels">
        <thead>
          <tr>
            <th scope="col">Measure</th>
            <th scope="col">Live</th>
            <th scope="col">Proposed</th>
          </tr>
        </thead>
        <tbody>
          {labels.map((l) => (
            <tr key={l.metric}>
              <th scope="row">{l.metric}</th>
              <td class="num">{l.ratio ? formatRate(l.live) : l.live === null ? '—' : formatCount(l.live)}</td>
              <td class="num">{l.ratio ? formatRate(l.proposed) : l.proposed === null ? '—' : formatCount(l.proposed)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

