import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { DecisionBadge, ErrorBox, Loading, PageTitle, Pager } from '../components/common';
import { firstPage, loaded } from '../lib/paging';
import type { PagingState } from '../lib/paging';
import { buildQuery, localInputToRfc3339, parseAmount } from '../lib/query';
import { formatAmount, formatTime } from '../lib/format';
import { txHref } from '../lib/route';
import { useSession } from '../session';
import type { Page, Transaction } from '../types';

// Where each filtered view was paged to, so coming back from a detail page keeps the page.
const pagingMemory = new Map<string, PagingState>();

const FIELDS = ['merchant_id', 'decision', 'label', 'resolved', 'since', 'until', 'min_amount', 'max_amount'] as const;
type Field = (typeof FIELDS)[number];

/** RFC 3339 → the value of a datetime-local input (local time). */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function Transactions({ query }: { query: Record<string, string> }) {
  const session = useSession();
  const filters: Record<Field, string> = Object.fromEntries(FIELDS.map((f) => [f, query[f] ?? ''])) as Record<Field, string>;
  const memoKey = buildQuery(filters);
  const [draft, setDraft] = useState<Record<Field, string>>(filters);
  const [paging, setPaging] = useState<PagingState>(() => pagingMemory.get(memoKey) ?? firstPage());
  const [items, setItems] = useState<Transaction[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [formError, setFormError] = useState<string | null>(null);

  useEffect(() => {
    setDraft(filters);
    setPaging(pagingMemory.get(memoKey) ?? firstPage());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [memoKey]);

  useEffect(() => {
    let cancelled = false;
    setItems(null);
    setError(null);
    api
      .get<Page<Transaction>>(`/v1/transactions${buildQuery({ ...filters, order: 'newest', limit: 25, cursor: paging.cursor })}`)
      .then((page) => {
        if (cancelled) return;
        setItems(page.items);
        setPaging((p) => {
          const n = loaded(p, page.next_cursor);
          pagingMemory.set(memoKey, n);
          return n;
        });
      })
      .catch((e) => {
        if (!cancelled) {
          setError(e);
          setItems([]);
        }
      });
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [memoKey, paging.cursor]);

  function submit(e: Event) {
    e.preventDefault();
    if (parseAmount(draft.min_amount) === null || parseAmount(draft.max_amount) === null) {
      setFormError('Amounts are whole numbers in minor units (cents).');
      return;
    }
    setFormError(null);
    pagingMemory.delete(buildQuery(draft));
    location.hash = `#/transactions${buildQuery(draft)}`;
  }

  const set = (f: Field) => (e: Event) => setDraft({ ...draft, [f]: (e.target as HTMLInputElement).value });

  return (
    <>
      <PageTitle>Transactions</PageTitle>
      <form class="filters" onSubmit={submit} aria-label="Transaction filters">
        <div>
          <label for="t-merchant">Merchant</label>
          <input id="t-merchant" value={draft.merchant_id} onInput={set('merchant_id')} />
        </div>
        <div>
          <label for="t-decision">Decision</label>
          <select id="t-decision" value={draft.decision} onChange={set('decision')}>
            <option value="">Any</option>
            <option value="approve">approve</option>
            <option value="decline">decline</option>
            <option value="review">review</option>
          </select>
        </div>
        <div>
          <label for="t-resolved">Review state</label>
          <select id="t-resolved" value={draft.resolved} onChange={set('resolved')}>
            <option value="">Any</option>
            <option value="false">Waiting</option>
            <option value="true">Resolved</option>
          </select>
        </div>
        <div>
          <label for="t-label">Label</label>
          <select id="t-label" value={draft.label} onChange={set('label')}>
            <option value="">Any</option>
            <option value="fraud">fraud</option>
            <option value="not_fraud">not fraud</option>
            <option value="none">no label</option>
          </select>
        </div>
        <div>
          <label for="t-since">Decided from</label>
          <input
            id="t-since"
            type="datetime-local"
            value={toLocalInput(draft.since)}
            onInput={(e) => setDraft({ ...draft, since: localInputToRfc3339((e.target as HTMLInputElement).value) })}
          />
        </div>
        <div>
          <label for="t-until">Decided before</label>
          <input
            id="t-until"
            type="datetime-local"
            value={toLocalInput(draft.until)}
            onInput={(e) => setDraft({ ...draft, until: localInputToRfc3339((e.target as HTMLInputElement).value) })}
          />
        </div>
        <div>
          <label for="t-min">Min amount (minor units)</label>
          <input id="t-min" inputMode="numeric" value={draft.min_amount} onInput={set('min_amount')} />
        </div>
        <div>
          <label for="t-max">Max amount (minor units)</label>
          <input id="t-max" inputMode="numeric" value={draft.max_amount} onInput={set('max_amount')} />
        </div>
        <div class="actions">
          <button type="submit">Search</button>
          <a class="button" href="#/transactions">
            Clear
          </a>
        </div>
      </form>
      {formError && (
        <div class="error" role="alert">
          {formError}
        </div>
      )}
      <ErrorBox error={error} role={session.role} />
      {items === null ? (
        <Loading what="Loading transactions" />
      ) : items.length === 0 ? (
        <p class="empty">No transaction matches.</p>
      ) : (
        <table id="tx-table">
          <caption class="sr-only">Transactions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Decided</th>
              <th scope="col">Merchant / transaction</th>
              <th scope="col">Amount</th>
              <th scope="col">Decision</th>
              <th scope="col">Reasons</th>
              <th scope="col">Label</th>
            </tr>
          </thead>
          <tbody>
            {items.map((t) => (
              <tr key={`${t.merchant_id}/${t.transaction_id}`}>
                <td>{formatTime(t.decided_at)}</td>
                <td>
                  <a href={txHref(t.merchant_id, t.transaction_id)}>
                    {t.merchant_id} / {t.transaction_id}
                  </a>
                </td>
                <td class="num">{formatAmount(t.amount, t.currency)}</td>
                <td>
                  <DecisionBadge value={t.decision} />
                  {t.resolution && (
                    <>
                      {' '}→ <DecisionBadge value={t.resolution.decision} />
                    </>
                  )}
                </td>
                <td>{t.reasons.map((r) => r.code).join(', ') || <span class="muted">—</span>}</td>
                <td>{t.label ? <span class={`badge badge-${t.label.label}`}>{t.label.label.replace('_', ' ')}</span> : <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager label="Transactions" paging={paging} setPaging={setPaging} />
    </>
  );
}
