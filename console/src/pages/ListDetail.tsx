import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, sendWithProgress, seg } from '../api';
import { ErrorBox, Loading, Notice, PageTitle, Pager } from '../components/common';
import { distinct, findProblems, parseEntries } from '../lib/entries';
import { formatCount, formatTime } from '../lib/format';
import { firstPage, loaded, pageNumber } from '../lib/paging';
import type { PagingState } from '../lib/paging';
import { buildQuery } from '../lib/query';
import { canWrite, useSession } from '../session';
import type { EntryPage, ListSummary } from '../types';

const PAGE = 100;

export function ListDetail({ name }: { name: string }) {
  const session = useSession();
  const writer = canWrite(session);
  const base = `/v1/lists/${seg(name)}`;
  const [summary, setSummary] = useState<ListSummary | null | 'missing'>(null);
  const [q, setQ] = useState('');
  const [search, setSearch] = useState('');
  const [paging, setPaging] = useState<PagingState>(firstPage());
  const [page, setPage] = useState<EntryPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [toAdd, setToAdd] = useState('');
  const [reload, setReload] = useState(0);

  const loadSummary = useCallback(async () => {
    try {
      const r = await api.get<{ items: ListSummary[] }>('/v1/lists');
      setSummary(r.items.find((l) => l.name === name) ?? 'missing');
    } catch (e) {
      setError(e);
    }
  }, [name]);

  useEffect(() => {
    void loadSummary();
  }, [loadSummary, reload]);

  useEffect(() => {
    if (summary === 'missing') {
      setPage({ items: [], next_cursor: null, total: 0 });
      return;
    }
    let cancelled = false;
    api
      .get<EntryPage>(`${base}/entries${buildQuery({ q: search, limit: PAGE, cursor: paging.cursor })}`)
      .then((p) => {
        if (cancelled) return;
        setPage(p);
        setPaging((s) => loaded(s, p.next_cursor));
      })
      .catch((e) => {
        if (cancelled) return;
        if ((e as ApiError).status === 404) setPage({ items: [], next_cursor: null, total: 0 });
        else setError(e);
      });
    return () => {
      cancelled = true;
    };
  }, [base, search, paging.cursor, reload, summary]);

  function refresh() {
    setReload((n) => n + 1);
  }

  async function add(e: Event) {
    e.preventDefault();
    const entries = parseEntries(toAdd);
    if (!entries.length) return;
    setActionError(null);
    setDone(null);
    try {
      const r = await api.post<ListSummary>(`${base}/entries`, { entries });
      setToAdd('');
      setDone(`Added ${formatCount(entries.length)} entr${entries.length === 1 ? 'y' : 'ies'}; the list has ${formatCount(r?.entry_count ?? 0)}.`);
      refresh();
    } catch (err) {
      setActionError(err);
    }
  }

  async function remove(value: string) {
    setActionError(null);
    setDone(null);
    try {
      await api.del(`${base}/entries/${seg(value)}`);
      setDone(`Removed “${value}”.`);
      refresh();
    } catch (err) {
      setActionError(err);
    }
  }

  const count = summary && summary !== 'missing' ? summary.entry_count : 0;
  return (
    <>
      <p class="crumbs">
        <a href="#/lists">← Lists</a>
      </p>
      <PageTitle>List {name}</PageTitle>
      <ErrorBox error={error} role={session.role} />
      {summary === null ? (
        <Loading what="Loading the list" />
      ) : summary === 'missing' ? (
        <p class="notice notice-warn">This list does not exist yet. {writer ? 'Upload a file or add entries to create it.' : ''}</p>
      ) : (
        <p id="list-summary">
          <strong id="list-count">{formatCount(count)}</strong> entries · updated {formatTime(summary.updated_at)}
        </p>
      )}
      <ErrorBox error={actionError} role={session.role} />
      {done && <Notice>{done}</Notice>}
      {writer && <Upload base={base} onDone={(msg) => { setDone(msg); setPaging(firstPage()); refresh(); }} />}
      {writer && (
        <form class="inline-form" onSubmit={add} aria-label="Add entries">
          <div class="grow">
            <label for="add-entries">Add entries (one a line)</label>
            <textarea id="add-entries" rows={2} value={toAdd} onInput={(e) => setToAdd((e.target as HTMLTextAreaElement).value)} />
          </div>
          <div class="actions">
            <button type="submit">Add</button>
          </div>
        </form>
      )}
      <section aria-labelledby="entries-h">
        <h2 id="entries-h">Entries</h2>
        <form
          class="inline-form"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setSearch(q.trim());
            setPaging(firstPage());
          }}
        >
          <div>
            <label for="entry-search">Starts with</label>
            <input id="entry-search" type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
          </div>
          <div class="actions">
            <button type="submit">Search</button>
          </div>
        </form>
        {page === null ? (
          <Loading what="Loading entries" />
        ) : (
          <>
            <p class="muted" aria-live="polite" id="entries-total">
              {search
                ? `${formatCount(page.items.length)}${page.next_cursor ? '+' : ''} entr${page.items.length === 1 && !page.next_cursor ? 'y' : 'ies'} on page ${pageNumber(paging)} start with “${search}” (the list has ${formatCount(page.total)}).`
                : `${formatCount(page.total)} entries${page.items.length > 0 ? `, showing ${formatCount(page.items.length)} on page ${pageNumber(paging)}` : ''}.`}
            </p>
            {page.items.length > 0 && (
              <table id="entries-table" class="compact">
                <thead>
                  <tr>
                    <th scope="col">Entry</th>
                    {writer && (
                      <th scope="col">
                        <span class="sr-only">Remove</span>
                      </th>
                    )}
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((v) => (
                    <tr key={v}>
                      <td>
                        <code>{v}</code>
                      </td>
                      {writer && (
                        <td>
                          <button type="button" class="small" onClick={() => void remove(v)} aria-label={`Remove ${v}`}>
                            Remove
                          </button>
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <Pager label="Entries" paging={paging} setPaging={setPaging} />
          </>
        )}
      </section>
    </>
  );
}

function Upload({ base, onDone }: { base: string; onDone: (msg: string) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [mode, setMode] = useState<'replace' | 'add'>('replace');
  const [progress, setProgress] = useState<number | null>(null);
  const [status, setStatus] = useState<string>('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);

  async function upload(e: Event) {
    e.preventDefault();
    if (!file) {
      setError(new ApiError(0, 'no_file', 'Choose a file first.'));
      return;
    }
    setBusy(true);
    setError(null);
    setProgress(0);
    setStatus('Reading the file…');
    try {
      const entries = distinct(parseEntries(await file.text()));
      const problems = findProblems(entries);
      if (problems.length) {
        throw new ApiError(0, 'bad_file', `Entries are at most 256 bytes; too long: entry ${problems.map((p) => p.line).join(', ')}.`);
      }
      if (entries.length > 1_000_000) throw new ApiError(0, 'bad_file', `A list holds at most 1,000,000 entries; the file has ${formatCount(entries.length)}.`);
      setStatus(`Uploading ${formatCount(entries.length)} entries…`);
      const r = await sendWithProgress<ListSummary>(mode === 'replace' ? 'PUT' : 'POST', mode === 'replace' ? base : `${base}/entries`, { entries }, (f) =>
        setProgress(f),
      );
      setProgress(1);
      const msg = `Uploaded ${formatCount(entries.length)} entries from ${file.name}; the list now has ${formatCount(r?.entry_count ?? entries.length)} entries.`;
      setStatus(msg);
      setFile(null);
      if (fileRef.current) fileRef.current.value = '';
      onDone(msg);
    } catch (err) {
      setError(err);
      setStatus('');
      setProgress(null);
    } finally {
      setBusy(false);
    }
  }

  const pct = progress === null ? 0 : Math.round(progress * 100);
  return (
    <form class="upload inline-form" onSubmit={upload} aria-labelledby="upload-h">
      <h2 id="upload-h" class="sr-only">
        Upload a file
      </h2>
      <div>
        <label for="list-file">File (one entry a line)</label>
        <input id="list-file" ref={fileRef} type="file" accept=".txt,.csv,text/plain" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
      </div>
      <div>
        <label for="upload-mode">Upload</label>
        <select id="upload-mode" value={mode} onChange={(e) => setMode((e.target as HTMLSelectElement).value as 'replace' | 'add')}>
          <option value="replace">replaces the list</option>
          <option value="add">adds to the list</option>
        </select>
      </div>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Upload
        </button>
      </div>
      {progress !== null && (
        <div class="progress-row">
          <label for="upload-progress">Upload progress</label>
          <progress id="upload-progress" max={100} value={pct}>
            {pct}%
          </progress>
          <span id="upload-percent">{pct}%</span>
        </div>
      )}
      <p class="small" aria-live="polite" id="upload-status">
        {status}
      </p>
      <ErrorBox error={error} />
    </form>
  );
}
