import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, seg } from '../api';
import { ErrorBox, Loading, Notice, PageTitle } from '../components/common';
import { Reasons, Trace, TxFacts } from '../components/tx';
import { formatTime } from '../lib/format';
import { useSession } from '../session';
import type { Label, Transaction } from '../types';

export function TransactionDetail({ merchantId, transactionId }: { merchantId: string; transactionId: string }) {
  const session = useSession();
  const base = `/v1/transactions/${seg(merchantId)}/${seg(transactionId)}`;
  const [tx, setTx] = useState<Transaction | null>(null);
  const [labels, setLabels] = useState<Label[] | null>(null);
  const [labelsError, setLabelsError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [label, setLabel] = useState<'fraud' | 'not_fraud'>('fraud');
  const [source, setSource] = useState<Label['source']>('manual');
  const [reason, setReason] = useState('');
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const labelsP = api.get<{ items: Label[] }>(`${base}/labels`);
      labelsP.catch(() => undefined);
      setTx(await api.get<Transaction>(`${base}?include=trace`));
      try {
        setLabels((await labelsP).items);
      } catch (e) {
        setLabelsError(e);
      }
    } catch (e) {
      setError(e);
    }
  }, [base]);

  useEffect(() => {
    void load();
  }, [load]);

  async function addLabel(e: Event) {
    e.preventDefault();
    setSaving(true);
    setSaveError(null);
    setSaved(null);
    try {
      const body: Record<string, string> = { label, source };
      if (reason.trim()) body.reason = reason.trim();
      await api.post(`${base}/labels`, body);
      setReason('');
      setSaved(`Label “${label.replace('_', ' ')}” added.`);
      await load();
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  }

  return (
    <>
      <p class="crumbs">
        <a href="#/transactions">← Transactions</a>
      </p>
      <PageTitle>
        {merchantId} / {transactionId}
      </PageTitle>
      <ErrorBox error={error} role={session.role} />
      {!tx && !error && <Loading what="Loading the transaction" />}
      {tx && (
        <div class="side-by-side">
          <div>
            <TxFacts tx={tx} />
            <Reasons tx={tx} />
            <section aria-labelledby="labels-h">
              <h2 id="labels-h">Label history</h2>
              <ErrorBox error={labelsError} role={session.role} />
              {labels && labels.length > 0 ? (
                <table id="label-history">
                  <thead>
                    <tr>
                      <th scope="col">At</th>
                      <th scope="col">Label</th>
                      <th scope="col">Source</th>
                      <th scope="col">Reason</th>
                      <th scope="col">By</th>
                    </tr>
                  </thead>
                  <tbody>
                    {labels.map((l, i) => (
                      <tr key={i}>
                        <td>{formatTime(l.at)}</td>
                        <td>
                          <span class={`badge badge-${l.label}`}>{l.label.replace('_', ' ')}</span>
                        </td>
                        <td>{l.source.replace('_', ' ')}</td>
                        <td>{l.reason ?? <span class="muted">—</span>}</td>
                        <td>{l.by}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : (
                <p class="muted">No label yet.</p>
              )}
              <h3 id="add-label-h">Add a label</h3>
              <form class="inline-form" onSubmit={addLabel} aria-labelledby="add-label-h">
                <div>
                  <label for="l-label">Label</label>
                  <select id="l-label" value={label} onChange={(e) => setLabel((e.target as HTMLSelectElement).value as 'fraud' | 'not_fraud')}>
                    <option value="fraud">fraud</option>
                    <option value="not_fraud">not fraud</option>
                  </select>
                </div>
                <div>
                  <label for="l-source">Source</label>
                  <select id="l-source" value={source} onChange={(e) => setSource((e.target as HTMLSelectElement).value as Label['source'])}>
                    <option value="manual">manual</option>
                    <option value="chargeback">chargeback</option>
                    <option value="issuer_alert">issuer alert</option>
                    <option value="customer_report">customer report</option>
                  </select>
                </div>
                <div class="grow">
                  <label for="l-reason">Reason (optional)</label>
                  <input id="l-reason" maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
                </div>
                <div class="actions">
                  <button type="submit" class="primary" disabled={saving}>
                    Add label
                  </button>
                </div>
              </form>
              <ErrorBox error={saveError} role={session.role} />
              {saved && <Notice>{saved}</Notice>}
            </section>
          </div>
          <div>
            <Trace trace={tx.trace} />
          </div>
        </div>
      )}
    </>
  );
}
