import { Fragment } from 'preact';
import type { Transaction, TraceEntry } from '../types';
import { formatAmount, formatTime, formatValue } from '../lib/format';
import { DecisionBadge, ModeBadge } from './common';

export function TxFacts({ tx }: { tx: Transaction }) {
  const rows: [string, string][] = [
    ['Merchant', tx.merchant_id],
    ['Transaction', tx.transaction_id],
    ['Amount', formatAmount(tx.amount, tx.currency)],
    ['Type', tx.type],
    ['Card', [tx.card?.brand, tx.card?.bin && `${tx.card.bin}…${tx.card.last4 ?? ''}`].filter(Boolean).join(' ') || '—'],
    ['Occurred', formatTime(tx.occurred_at)],
    ['Decided', formatTime(tx.decided_at)],
    ['Rules version', String(tx.rules_version)],
  ];
  for (const [k, v] of Object.entries(tx.customer ?? {})) rows.push([`Customer ${k.replace('_', ' ')}`, v]);
  for (const [k, v] of Object.entries(tx.merchant ?? {})) rows.push([`Merchant ${k}`, v]);
  for (const [k, v] of Object.entries(tx.metadata ?? {})) rows.push([`metadata.${k}`, v]);
  return (
    <dl class="facts">
      <dt>Decision</dt>
      <dd>
        <DecisionBadge value={tx.decision} />
        {tx.resolution && (
          <span>
            {' '}
            → resolved <DecisionBadge value={tx.resolution.decision} /> by {tx.resolution.by} at{' '}
            {formatTime(tx.resolution.at)}
            {tx.resolution.note ? `: “${tx.resolution.note}”` : ''}
          </span>
        )}
      </dd>
      {tx.label && (
        <>
          <dt>Label</dt>
          <dd>
            <span class={`badge badge-${tx.label.label}`}>{tx.label.label.replace('_', ' ')}</span> ({tx.label.source})
          </dd>
        </>
      )}
      {rows.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

export function Reasons({ tx }: { tx: Transaction }) {
  return (
    <section aria-labelledby="reasons-h">
      <h2 id="reasons-h">Reasons</h2>
      {tx.reasons.length === 0 ? (
        <p class="muted">No check or enforced rule matched.</p>
      ) : (
        <ul class="reasons">
          {tx.reasons.map((r, i) => (
            <li key={i}>
              <code>{r.code}</code> <DecisionBadge value={r.action} />{' '}
              <span class="muted">{r.source === 'rule' ? `rule ${r.rule_id}` : 'built-in check'}</span>
            </li>
          ))}
        </ul>
      )}
      {tx.shadow_matches.length > 0 && (
        <>
          <h3>Shadow matches (no effect)</h3>
          <ul class="reasons">
            {tx.shadow_matches.map((r, i) => (
              <li key={i}>
                <code>{r.code}</code> <DecisionBadge value={r.action} /> <ModeBadge mode="shadow" />{' '}
                <span class="muted">rule {r.rule_id}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function Trace({ trace }: { trace: TraceEntry[] | undefined }) {
  return (
    <section aria-labelledby="trace-h">
      <h2 id="trace-h">Decision trace</h2>
      {!trace || trace.length === 0 ? (
        <p class="muted">No rule was evaluated for this decision.</p>
      ) : (
        trace.map((t) => (
          <div class={`trace trace-${t.result}`} key={t.rule_id}>
            <h3>
              <code>{t.rule_id}</code> <span class="muted">v{t.rule_version}</span> <ModeBadge mode={t.mode} />{' '}
              <span class={`result result-${t.result}`}>{t.result.replace('_', ' ')}</span>
            </h3>
            {t.values.length > 0 && (
              <table class="compact">
                <caption class="sr-only">Values rule {t.rule_id} saw</caption>
                <thead>
                  <tr>
                    <th scope="col">Expression</th>
                    <th scope="col">Value</th>
                  </tr>
                </thead>
                <tbody>
                  {t.values.map((v, i) => (
                    <tr key={i}>
                      <td>
                        <code>{v.expr}</code>
                      </td>
                      <td class={v.value === null ? 'muted' : ''}>
                        <code>{formatValue(v.value)}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        ))
      )}
    </section>
  );
}
