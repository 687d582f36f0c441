import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Loading, PageTitle } from '../components/common';
import { formatCount, formatTime } from '../lib/format';
import { listHref } from '../lib/route';
import { canWrite, useSession } from '../session';
import type { ListSummary } from '../types';

export const LIST_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

export function Lists() {
  const session = useSession();
  const [lists, setLists] = useState<ListSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState('');
  const [newName, setNewName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);

  useEffect(() => {
    api
      .get<{ items: ListSummary[] }>('/v1/lists')
      .then((r) => setLists(r.items))
      .catch((e) => {
        setError(e);
        setLists([]);
      });
  }, []);

  function create(e: Event) {
    e.preventDefault();
    if (!LIST_NAME.test(newName)) {
      setNameError('A list name is 1–64 characters of A–Z a–z 0–9 . _ : -');
      return;
    }
    setNameError(null);
    location.hash = listHref(newName);
  }

  const shown = (lists ?? []).filter((l) => l.name.toLowerCase().includes(filter.trim().toLowerCase()));
  return (
    <>
      <PageTitle>Lists</PageTitle>
      <p class="muted">Named sets of strings that rules test with <code>in list('NAME')</code>.</p>
      <ErrorBox error={error} role={session.role} />
      <div class="toolbar">
        <div>
          <label for="lists-filter">Filter by name</label>
          <input id="lists-filter" type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </div>
        {canWrite(session) && (
          <form class="inline-form" onSubmit={create} aria-label="New list">
            <div>
              <label for="new-list">New list name</label>
              <input id="new-list" value={newName} onInput={(e) => setNewName((e.target as HTMLInputElement).value)} aria-invalid={nameError ? 'true' : undefined} />
            </div>
            <div class="actions">
              <button type="submit">Create…</button>
            </div>
          </form>
        )}
      </div>
      {nameError && (
        <div class="error" role="alert">
          {nameError}
        </div>
      )}
      {lists === null ? (
        <Loading what="Loading lists" />
      ) : shown.length === 0 ? (
        <p class="empty">No list{filter ? ' with that name' : ' yet'}.</p>
      ) : (
        <table id="lists-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Entries</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((l) => (
              <tr key={l.name}>
                <th scope="row">
                  <a href={listHref(l.name)}>{l.name}</a>
                </th>
                <td class="num">{formatCount(l.entry_count)}</td>
                <td>{formatTime(l.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
