import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { BacktestPanel } from '../components/Backtest';
import { ExprEditor } from '../components/ExprEditor';
import { DecisionBadge, ErrorBox, Loading, ModeBadge, Notice, PageTitle } from '../components/common';
import { formatCount } from '../lib/format';
import { codeFromName, diff, draftsFrom, isDirty, newDraft, proposedSet } from '../lib/rules';
import type { Draft } from '../lib/rules';
import { canWrite, useSession } from '../session';
import type { CheckResult, RuleAction, RuleList, RuleMode, RuleWarning, Stats } from '../types';

export function Rules() {
  const session = useSession();
  const writer = canWrite(session);
  const [live, setLive] = useState<RuleList | null>(null);
  const [drafts, setDrafts] = useState<Draft[]>([]);
  const [hits, setHits] = useState<Map<string, number> | null>(null);
  const [analysis, setAnalysis] = useState<(RuleWarning & { rule_id: string })[]>([]);
  const [selectedKey, setSelectedKey] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [check, setCheck] = useState<CheckResult | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const l = await api.get<RuleList>('/v1/rules');
      setLive(l);
      setDrafts(draftsFrom(l.items));
    } catch (e) {
      setError(e);
    }
    // Hit counts and analysis are extras: the page works without them.
    api
      .get<Stats>('/v1/stats?window=24h')
      .then((s) => setHits(new Map(s.rules.map((r) => [r.rule_id, r.matches]))))
      .catch(() => setHits(null));
    api
      .get<{ warnings: (RuleWarning & { rule_id: string })[] }>('/v1/rules/analysis')
      .then((a) => setAnalysis(a.warnings))
      .catch(() => setAnalysis([]));
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const changes = useMemo(() => diff(live?.items ?? [], drafts), [live, drafts]);
  const dirty = isDirty(changes);
  const selected = drafts.find((d) => d.key === selectedKey) ?? null;

  function update(patch: Partial<Draft>) {
    if (!selected) return;
    setSaved(null);
    setDrafts((ds) => ds.map((d) => (d.key === selected.key ? { ...d, ...patch } : d)));
  }

  function addRule() {
    const d = newDraft(drafts);
    setDrafts([...drafts, d]);
    setSelectedKey(d.key);
    setSaved(null);
    setTimeout(() => document.getElementById('rule-name')?.focus(), 0);
  }

  function discard() {
    if (!live) return;
    setDrafts(draftsFrom(live.items));
    setSelectedKey(null);
    setSaveError(null);
    setSaved('Your changes were discarded.');
  }

  async function save() {
    if (!live) return;
    setSaving(true);
    setSaveError(null);
    setSaved(null);
    try {
      const r = await api.put<RuleList & { created: string[]; updated: string[]; deleted: string[] }>(
        '/v1/rules',
        { rules: proposedSet(drafts) },
        { headers: { 'If-Match': `"${live.rules_version}"` } },
      );
      setLive({ items: r.items, rules_version: r.rules_version });
      setDrafts(draftsFrom(r.items));
      setSelectedKey(null);
      setSaved(
        `Saved: rules version ${r.rules_version} (${r.created.length} created, ${r.updated.length} updated, ${r.deleted.length} deleted).`,
      );
      void load();
    } catch (e) {
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  }

  // The check result belongs to the rule in the editor.
  useEffect(() => setCheck(null), [selectedKey]);

  const warningsFor = (id: string) => analysis.filter((w) => w.rule_id === id);

  return (
    <>
      <PageTitle>Rules</PageTitle>
      <ErrorBox error={error} role={session.role} />
      {!live && !error && <Loading what="Loading the rules" />}
      {live && (
        <>
          <p class="muted">
            Live rules version {live.rules_version}. Hit counts are matches over the last 24 hours
            {hits === null ? ' (not available)' : ''}.
            {!writer && ' Your analyst key can edit and backtest a proposed set, but only an admin can save it.'}
          </p>
          <table id="rules-table">
            <caption class="sr-only">Proposed rule set (the live set with your edits)</caption>
            <thead>
              <tr>
                <th scope="col">Priority</th>
                <th scope="col">Rule</th>
                <th scope="col">Expression</th>
                <th scope="col">Action</th>
                <th scope="col">Mode</th>
                <th scope="col">Hits (24 h)</th>
                <th scope="col">
                  <span class="sr-only">Edit</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {drafts.map((d) => {
                const upd = changes.updated.find((u) => u.draft.key === d.key);
                const state = d.deleted ? 'deleted' : d.isNew ? 'new' : upd ? 'changed' : '';
                const ws = d.isNew ? [] : warningsFor(d.key);
                return (
                  <tr key={d.key} class={`${state} ${d.key === selectedKey ? 'selected' : ''}`} data-rule={d.key}>
                    <td class="num">{d.priority}</td>
                    <th scope="row">
                      {d.name}
                      <div class="small muted">
                        <code>{d.id ?? '(new)'}</code> · <code>{d.code}</code>
                      </div>
                      {state && <span class={`badge badge-${state}`}>{state}</span>}
                      {ws.length > 0 && (
                        <div class="small warn-text">
                          {ws.map((w) => (
                            <div key={w.code}>⚠ {w.message}</div>
                          ))}
                        </div>
                      )}
                    </th>
                    <td>
                      <code class="expr-cell">{d.expression}</code>
                    </td>
                    <td>
                      <DecisionBadge value={d.action} />
                    </td>
                    <td>
                      <ModeBadge mode={d.mode} />
                    </td>
                    <td class="num">{d.isNew || hits === null ? '—' : formatCount(hits.get(d.key) ?? 0)}</td>
                    <td>
                      <button type="button" onClick={() => setSelectedKey(d.key)} aria-label={`Edit ${d.name}`}>
                        Edit
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <div class="toolbar">
            <button type="button" onClick={addRule} id="new-rule">
              New rule
            </button>
            <span class="muted" role="status">
              {dirty
                ? `Unsaved: ${changes.created.length} new, ${changes.updated.length} changed, ${changes.deleted.length} removed.`
                : 'No unsaved changes.'}
            </span>
            <button type="button" onClick={discard} disabled={!dirty}>
              Discard changes
            </button>
            <button
              type="button"
              class="primary"
              onClick={() => void save()}
              disabled={!dirty || saving || !writer || (check !== null && !check.valid)}
              aria-describedby={!writer ? 'save-hint' : undefined}
              id="save-rules"
            >
              {saving ? 'Saving…' : 'Save to live'}
            </button>
            {!writer && (
              <span id="save-hint" class="small muted">
                Only admins can save rules.
              </span>
            )}
          </div>
          <ErrorBox error={saveError} role={session.role} />
          {saved && <Notice>{saved}</Notice>}

          {selected && (
            <section class="editor" aria-labelledby="editor-h">
              <h2 id="editor-h">{selected.isNew ? 'New rule' : `Edit ${selected.id}`}</h2>
              <div class="grid2">
                <div>
                  <label for="rule-name">Name</label>
                  <input
                    id="rule-name"
                    value={selected.name}
                    maxLength={200}
                    onInput={(e) => {
                      const name = (e.target as HTMLInputElement).value;
                      update(selected.isNew && selected.code === codeFromName(selected.name) ? { name, code: codeFromName(name) } : { name });
                    }}
                  />
                </div>
                <div>
                  <label for="rule-code">Reason code</label>
                  <input id="rule-code" value={selected.code} maxLength={64} onInput={(e) => update({ code: (e.target as HTMLInputElement).value })} />
                </div>
                <div>
                  <label for="rule-action">Action</label>
                  <select id="rule-action" value={selected.action} onChange={(e) => update({ action: (e.target as HTMLSelectElement).value as RuleAction })}>
                    <option value="decline">decline</option>
                    <option value="review">review</option>
                    <option value="approve">approve</option>
                  </select>
                </div>
                <div>
                  <label for="rule-mode">Mode</label>
                  <select id="rule-mode" value={selected.mode} onChange={(e) => update({ mode: (e.target as HTMLSelectElement).value as RuleMode })}>
                    <option value="enforce">enforce</option>
                    <option value="shadow">shadow (report only)</option>
                    <option value="disabled">disabled</option>
                  </select>
                </div>
                <div>
                  <label for="rule-priority">Priority (lower first)</label>
                  <input
                    id="rule-priority"
                    type="number"
                    value={selected.priority}
                    onInput={(e) => update({ priority: Number((e.target as HTMLInputElement).value) || 0 })}
                  />
                </div>
              </div>
              <ExprEditor
                key={selected.key}
                id="rule-expression"
                value={selected.expression}
                onInput={(v) => update({ expression: v })}
                onChecked={setCheck}
              />
              <div class="toolbar">
                {selected.deleted ? (
                  <button type="button" onClick={() => update({ deleted: false })}>
                    Keep this rule
                  </button>
                ) : (
                  <button type="button" onClick={() => update({ deleted: true })}>
                    Remove from the proposed set
                  </button>
                )}
                <button type="button" onClick={() => setSelectedKey(null)}>
                  Close editor
                </button>
              </div>
            </section>
          )}
          <BacktestPanel rules={() => proposedSet(drafts)} role={session.role} />
        </>
      )}
    </>
  );
}
