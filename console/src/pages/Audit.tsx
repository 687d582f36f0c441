import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Loading, PageTitle, Pager } from '../components/common';
import { objectHref, summarize } from '../lib/audit';
import { formatTime } from '../lib/format';
import { firstPage, loaded } from '../lib/paging';
import type { PagingState } from '../lib/paging';
import { buildQuery, localInputToRfc3339 } from '../lib/query';
import { useSession } from '../session';
import type { AuditEntry, Page } from '../types';

export function Audit({ query }: { query: Record<string, string> }) {
  const session = useSession();
  const filters = { object_type: query.object_type ?? '', object_id: query.object_id ?? '', since: query.since ?? '' };
  const key = buildQuery(filters);
  const [draft, setDraft] = useState(filters);
  const [paging, setPaging] = useState<PagingState>(firstPage());
  const [items, setItems] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setDraft(filters);
    setPaging(firstPage());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  useEffect(() => {
    let cancelled = false;
    setItems(null);
    setError(null);
    api
      .get<Page<AuditEntry>>(`/v1/audit${buildQuery({ ...filters, limit: 50, cursor: paging.cursor })}`)
      .then((p) => {
        if (cancelled) return;
        setItems(p.items);
        setPaging((s) => loaded(s, p.next_cursor));
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
  }, [key, paging.cursor]);

  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <form
        class="filters"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          location.hash = `#/audit${buildQuery(draft)}`;
        }}
      >
        <div>
          <label for="a-type">Object type</label>
          <select id="a-type" value={draft.object_type} onChange={(e) => setDraft({ ...draft, object_type: (e.target as HTMLSelectElement).value })}>
            <option value="">Any</option>
            <option value="rule">rule</option>
            <option value="list">list</option>
            <option value="transaction">transaction</option>
          </select>
        </div>
        <div>
          <label for="a-id">Object id</label>
          <input id="a-id" value={draft.object_id} onInput={(e) => setDraft({ ...draft, object_id: (e.target as HTMLInputElement).value })} />
        </div>
        <div>
          <label for="a-since">Since</label>
          <input id="a-since" type="datetime-local" onInput={(e) => setDraft({ ...draft, since: localInputToRfc3339((e.target as HTMLInputElement).value) })} />
        </div>
        <div class="actions">
          <button type="submit">Search</button>
          <a class="button" href="#/audit">
            Clear
          </a>
        </div>
      </form>
      <ErrorBox error={error} role={session.role} />
      {items === null ? (
        <Loading what="Loading the audit log" />
      ) : items.length === 0 ? (
        <p class="empty">No audit entry matches.</p>
      ) : (
        <table id="audit-table">
          <caption class="sr-only">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Object</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => {
              const href = objectHref(e);
              return (
                <tr key={e.id}>
                  <td>{formatTime(e.at)}</td>
                  <td>{e.actor}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>
                    {e.object_type}{' '}
                    {href ? <a href={href}>{e.object_id}</a> : <code>{e.object_id}</code>}
                  </td>
                  <td>
                    <details>
                      <summary>{summarize(e)}</summary>
                      <div class="grid2">
                        <div>
                          <strong>Before</strong>
                          <pre class="json">{JSON.stringify(e.before, null, 2)}</pre>
                        </div>
                        <div>
                          <strong>After</strong>
                          <pre class="json">{JSON.stringify(e.after, null, 2)}</pre>
                        </div>
                      </div>
                    </details>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <Pager label="Audit" paging={paging} setPaging={setPaging} />
    </>
  );
}
