import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { markColumn } from '../lib/exprmark';
import type { CheckResult } from '../types';

/**
 * The expression field: checks as you type (`POST /v1/rules/check`, debounced), underlines the
 * error's column in a mirror of the text, and lists the warnings. The column and message are
 * in an aria-live region so that screen-reader users hear them too.
 */
export function ExprEditor(props: {
  id: string;
  value: string;
  onInput: (v: string) => void;
  onChecked?: (r: CheckResult | null) => void;
}) {
  const [result, setResult] = useState<CheckResult | null>(null);
  const [checkedText, setCheckedText] = useState('');
  const [checking, setChecking] = useState(false);
  const [checkError, setCheckError] = useState<string | null>(null);
  const seq = useRef(0);
  const { value, onChecked } = props;

  useEffect(() => {
    const mySeq = ++seq.current;
    if (!value.trim()) {
      setResult(null);
      setCheckError(null);
      onChecked?.(null);
      return;
    }
    setChecking(true);
    const timer = setTimeout(async () => {
      try {
        const r = await api.post<CheckResult>('/v1/rules/check', { expression: value });
        if (mySeq !== seq.current) return;
        setResult(r);
        setCheckedText(value);
        setCheckError(null);
        onChecked?.(r);
      } catch (e) {
        if (mySeq !== seq.current) return;
        setCheckError((e as ApiError).message);
        onChecked?.(null);
      } finally {
        if (mySeq === seq.current) setChecking(false);
      }
    }, 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);

  const err = result && !result.valid ? result.errors[0] : undefined;
  const mark = err ? markColumn(checkedText, err.column) : null;
  const describedBy = `${props.id}-status`;

  return (
    <div class="expr-editor">
      <label for={props.id}>Expression</label>
      <textarea
        id={props.id}
        class={`expr ${err ? 'invalid' : ''}`}
        rows={3}
        spellcheck={false}
        autocomplete="off"
        value={value}
        aria-invalid={err ? 'true' : undefined}
        aria-describedby={describedBy}
        onInput={(e) => props.onInput((e.target as HTMLTextAreaElement).value)}
      />
      {mark && (
        <pre class="expr-mirror" aria-hidden="true" id={`${props.id}-mirror`}>
          {mark.before}
          <mark class="expr-error">{mark.marked || ' '}</mark>
          {mark.after}
        </pre>
      )}
      <div id={describedBy} class="expr-status" aria-live="polite">
        {checking && !result && <span class="muted">Checking…</span>}
        {checkError && <span class="error-text">Could not check: {checkError}</span>}
        {err && (
          <p class="error-text" data-column={err.column}>
            <strong>Error at column {err.column}</strong>
            {mark && mark.line > 1 ? ` (line ${mark.line}, column ${mark.lineColumn})` : ''}: {err.message}
          </p>
        )}
        {result && result.valid && result.errors.length === 0 && value === checkedText && (
          <p class="ok-text">The expression is valid.</p>
        )}
        {result && result.warnings.length > 0 && (
          <ul class="warnings" aria-label="Warnings">
            {result.warnings.map((w, i) => (
              <li key={i}>
                <strong>Warning</strong> <code>{w.code}</code>
                {w.column ? ` at column ${w.column}` : ''}: {w.message}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
