import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, seg } from '../api';
import { ErrorBox, Loading, PageTitle } from '../components/common';
import { Reasons, Trace, TxFacts } from '../components/tx';
import { QUEUE_SHORTCUTS, queueCommand } from '../lib/keys';
import { agoRfc3339, buildQuery, parseAmount } from '../lib/query';
import { formatAge, formatAmount, formatTime } from '../lib/format';
import { txHref } from '../lib/route';
import { useSession } from '../session';
import type { Page, Transaction } from '../types';

const keyOf = (t: { merchant_id: string; transaction_id: string }) => `${t.merchant_id}/${t.transaction_id}`;
const txPath = (t: { merchant_id: string; transaction_id: string }) =>
  `/v1/transactions/${seg(t.merchant_id)}/${seg(t.transaction_id)}`;

const AGES: { value: string; label: string }[] = [
  { value: '', label: 'Any age' },
  { value: '300', label: 'Older than 5 minutes' },
  { value: '3600', label: 'Older than 1 hour' },
  { value: '14400', label: 'Older than 4 hours' },
  { value: '86400', label: 'Older than 1 day' },
];

interface Filters {
  merchant: string;
  min: string;
  max: string;
  age: string;
}

export function Queue() {
  const session = useSession();
  const [filters, setFilters] = useState<Filters>({ merchant: '', min: '', max: '', age: '' });
  const [draft, setDraft] = useState<Filters>(filters);
  const [items, setItems] = useState<Transaction[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [filterError, setFilterError] = useState<string | null>(null);
  const [selected, setSelected] = useState(0);
  const [details, setDetails] = useState<Map<string, Transaction>>(new Map());
  const [detailError, setDetailError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [announce, setAnnounce] = useState('');
  const [conflict, setConflict] = useState<string | null>(null);
  const noteRef = useRef<HTMLTextAreaElement>(null);
  const inflight = useRef(new Set<string>());

  const query = useCallback(
    (cursor: string | null) =>
      `/v1/transactions${buildQuery({
        decision: 'review',
        resolved: 'false',
        order: 'oldest',
        merchant_id: filters.merchant,
        min_amount: filters.min,
        max_amount: filters.max,
        until: filters.age ? agoRfc3339(Number(filters.age)) : '',
        limit: 50,
        cursor,
      })}`,
    [filters],
  );

  const load = useCallback(async () => {
    setLoadError(null);
    try {
      const page = await api.get<Page<Transaction>>(query(null));
      setItems(page.items);
      setNext(page.next_cursor);
      setSelected(0);
    } catch (e) {
      setLoadError(e);
      setItems([]);
    }
  }, [query]);

  useEffect(() => {
    void load();
  }, [load]);

  async function loadMore() {
    if (!next || !items) return;
    try {
      const page = await api.get<Page<Transaction>>(query(next));
      const seen = new Set(items.map(keyOf));
      setItems([...items, ...page.items.filter((t) => !seen.has(keyOf(t)))]);
      setNext(page.next_cursor);
    } catch (e) {
      setLoadError(e);
    }
  }

  // Load the selected item's detail (with its trace) and prefetch the one after it, so that
  // the next item is on screen at once after a resolution.
  const fetchDetail = useCallback(async (t: Transaction) => {
    const k = keyOf(t);
    if (inflight.current.has(k)) return;
    inflight.current.add(k);
    try {
      const full = await api.get<Transaction>(`${txPath(t)}?include=trace`);
      setDetails((m) => new Map(m).set(k, full));
    } catch (e) {
      if ((e as ApiError).status !== 401) setDetailError(e);
    } finally {
      inflight.current.delete(k);
    }
  }, []);

  const current = items && items.length > 0 ? items[Math.min(selected, items.length - 1)] : undefined;
  const currentDetail = current ? details.get(keyOf(current)) : undefined;

  useEffect(() => {
    if (!items || !current) return;
    setDetailError(null);
    const idx = items.indexOf(current);
    for (const t of [current, items[idx + 1], items[idx + 2]]) {
      if (t && !details.has(keyOf(t))) void fetchDetail(t);
    }
  }, [current, items, details, fetchDetail]);

  const resolve = useCallback(
    async (decision: 'approve' | 'decline') => {
      if (!current || busy || !items) return;
      setBusy(true);
      setActionError(null);
      setConflict(null);
      const k = keyOf(current);
      const removeCurrent = () => {
        setItems((list) => (list ?? []).filter((t) => keyOf(t) !== k));
        setSelected((i) => Math.max(0, Math.min(i, items.length - 2)));
        setNote('');
      };
      try {
        await api.post(`${txPath(current)}/resolution`, { decision, note: note.trim() });
        removeCurrent();
        setAnnounce(`${decision === 'approve' ? 'Approved' : 'Declined'} ${k}. ${items.length - 1} left in this view.`);
      } catch (e) {
        const err = e as ApiError;
        if (err.status === 409 && err.code === 'not_reviewable') {
          // Someone else got there first: say who, and move on.
          let who = '';
          try {
            const now = await api.get<Transaction>(txPath(current));
            if (now.resolution) who = ` It was ${now.resolution.decision}d by ${now.resolution.by} at ${formatTime(now.resolution.at)}.`;
          } catch {
            // keep the plain message
          }
          removeCurrent();
          setConflict(`${k} was already resolved by someone else; your ${decision} was not recorded.${who} It has left your queue.`);
          setAnnounce('');
        } else {
          setActionError(e);
        }
      } finally {
        setBusy(false);
      }
    },
    [current, busy, items, note],
  );

  // One listener for the page's lifetime, reading the latest state through a ref, so that a key
  // pressed right after a render is never handled with stale state.
  const latest = useRef({ items, resolve });
  latest.current = { items, resolve };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const cmd = queueCommand({
        key: e.key,
        ctrlKey: e.ctrlKey,
        metaKey: e.metaKey,
        altKey: e.altKey,
        targetTag: t?.tagName,
        targetEditable: t?.isContentEditable,
      });
      const { items: list, resolve: act } = latest.current;
      if (!cmd || !list || list.length === 0) return;
      e.preventDefault();
      if (cmd === 'next') setSelected((i) => Math.min(i + 1, Math.max(0, list.length - 1)));
      else if (cmd === 'prev') setSelected((i) => Math.max(0, i - 1));
      else if (cmd === 'note') noteRef.current?.focus();
      else void act(cmd);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  function applyFilters(e: Event) {
    e.preventDefault();
    const min = parseAmount(draft.min);
    const max = parseAmount(draft.max);
    if (min === null || max === null) {
      setFilterError('Amounts are whole numbers in minor units (cents): e.g. 50000 for 500.00 USD.');
      return;
    }
    if (min !== '' && max !== '' && min > max) {
      setFilterError('The minimum amount is larger than the maximum.');
      return;
    }
    setFilterError(null);
    setFilters({ ...draft });
  }

  return (
    <>
      <PageTitle>Review queue</PageTitle>
      <form class="filters" onSubmit={applyFilters} aria-label="Queue filters">
        <div>
          <label for="q-merchant">Merchant</label>
          <input id="q-merchant" value={draft.merchant} onInput={(e) => setDraft({ ...draft, merchant: (e.target as HTMLInputElement).value })} />
        </div>
        <div>
          <label for="q-min">Min amount (minor units)</label>
          <input id="q-min" inputMode="numeric" value={draft.min} onInput={(e) => setDraft({ ...draft, min: (e.target as HTMLInputElement).value })} />
        </div>
        <div>
          <label for="q-max">Max amount (minor units)</label>
          <input id="q-max" inputMode="numeric" value={draft.max} onInput={(e) => setDraft({ ...draft, max: (e.target as HTMLInputElement).value })} />
        </div>
        <div>
          <label for="q-age">Age</label>
          <select id="q-age" value={draft.age} onChange={(e) => setDraft({ ...draft, age: (e.target as HTMLSelectElement).value })}>
            {AGES.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </div>
        <div class="actions">
          <button type="submit">Apply</button>
          <button type="button" onClick={() => void load()}>
            Refresh
          </button>
        </div>
      </form>
      {filterError && (
        <div class="error" role="alert">
          {filterError}
        </div>
      )}
      <ErrorBox error={loadError} role={session.role} />
      <div class="sr-only" aria-live="polite" id="queue-announce">
        {announce}
      </div>
      <ErrorBox error={actionError} role={session.role} />
      {conflict && (
        <div class="error" role="alert" id="queue-conflict">
          <strong>Already resolved (409):</strong> {conflict}
        </div>
      )}
      {announce && (
        <p class="notice notice-ok" id="queue-status">
          {announce}
        </p>
      )}
      {items === null ? (
        <Loading what="Loading the queue" />
      ) : items.length === 0 ? (
        <p class="empty" id="queue-empty">
          Nothing waits for review{filters.merchant || filters.min || filters.max || filters.age ? ' with these filters' : ''}.
        </p>
      ) : (
        <div class="split">
          <section class="queue-list" aria-labelledby="queue-list-h">
            <h2 id="queue-list-h">
              Waiting, oldest first ({items.length}
              {next ? '+' : ''})
            </h2>
            <table id="queue-table">
              <thead>
                <tr>
                  <th scope="col">Transaction</th>
                  <th scope="col">Amount</th>
                  <th scope="col">Age</th>
                </tr>
              </thead>
              <tbody>
                {items.map((t, i) => {
                  const sel = t === current;
                  return (
                    <tr key={keyOf(t)} class={sel ? 'selected' : ''} aria-current={sel ? 'true' : undefined} data-key={keyOf(t)}>
                      <td>
                        <button type="button" class="link" onClick={() => setSelected(i)} aria-label={`Show ${t.merchant_id} ${t.transaction_id}`}>
                          {t.merchant_id} / {t.transaction_id}
                        </button>
                      </td>
                      <td class="num">{formatAmount(t.amount, t.currency)}</td>
                      <td class="num">{formatAge(t.decided_at)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {next && (
              <button type="button" onClick={() => void loadMore()}>
                Load more
              </button>
            )}
          </section>
          <section class="queue-detail" aria-labelledby="queue-detail-h" id="queue-detail">
            {current && (
              <>
                <h2 id="queue-detail-h">
                  <a href={txHref(current.merchant_id, current.transaction_id)}>
                    {current.merchant_id} / {current.transaction_id}
                  </a>
                </h2>
                <form
                  class="resolve"
                  onSubmit={(e) => e.preventDefault()}
                  aria-label="Resolve this review"
                >
                  <label for="resolve-note">Note (optional, no card numbers)</label>
                  <textarea id="resolve-note" ref={noteRef} rows={2} maxLength={1000} value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
                  <div class="actions">
                    <button type="button" class="approve" disabled={busy} onClick={() => void resolve('approve')} aria-keyshortcuts="a">
                      Approve <kbd>a</kbd>
                    </button>
                    <button type="button" class="decline" disabled={busy} onClick={() => void resolve('decline')} aria-keyshortcuts="d">
                      Decline <kbd>d</kbd>
                    </button>
                  </div>
                </form>
                <ErrorBox error={detailError} role={session.role} />
                {currentDetail ? (
                  <div class="side-by-side">
                    <div>
                      <TxFacts tx={currentDetail} />
                      <Reasons tx={currentDetail} />
                    </div>
                    <div>
                      <Trace trace={currentDetail.trace} />
                    </div>
                  </div>
                ) : (
                  <Loading what="Loading the transaction" />
                )}
              </>
            )}
          </section>
        </div>
      )}
      <details class="shortcuts">
        <summary>Keyboard shortcuts</summary>
        <dl>
          {QUEUE_SHORTCUTS.map((s) => (
            <div key={s.keys}>
              <dt>
                <kbd>{s.keys}</kbd>
              </dt>
              <dd>{s.what}</dd>
            </div>
          ))}
        </dl>
        <p class="muted small">Shortcuts do nothing while a form field has the focus; press Tab to leave it.</p>
      </details>
    </>
  );
}
