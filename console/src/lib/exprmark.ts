/**
 * Splits an expression around a 1-based column so that the editor can underline the
 * offending token. Columns count Unicode code points. The marked span is the identifier,
 * number, quoted string or operator (`>=`, `&&`) starting at the column, else one character; a column past the end
 * marks an empty span at the end (rendered as a visible placeholder).
 */
export interface Marked {
  before: string;
  marked: string;
  after: string;
  /** The line (1-based) and column within that line, for multi-line expressions. */
  line: number;
  lineColumn: number;
  /** True when the column points past the end of the text. */
  atEnd: boolean;
}

export function markColumn(text: string, column: number): Marked {
  const chars = Array.from(text);
  let idx = Math.max(0, Math.floor(column) - 1);
  if (idx > chars.length) idx = chars.length;
  let end = idx;
  if (idx < chars.length) {
    const c = chars[idx]!;
    if (/[A-Za-z0-9_.]/.test(c)) {
      end = idx + 1;
      while (end < chars.length && /[A-Za-z0-9_]/.test(chars[end]!)) end++;
    } else if (c === "'" || c === '"') {
      end = idx + 1;
      while (end < chars.length && chars[end] !== c) end++;
      if (end < chars.length) end++;
    } else if (/[=<>!&|]/.test(c)) {
      end = idx + 1;
      while (end < chars.length && end - idx < 2 && /[=<>!&|]/.test(chars[end]!)) end++;
    } else {
      end = idx + 1;
    }
  }
  const before = chars.slice(0, idx).join('');
  const lines = before.split('\n');
  return {
    before,
    marked: chars.slice(idx, end).join(''),
    after: chars.slice(end).join(''),
    line: lines.length,
    lineColumn: Array.from(lines[lines.length - 1] ?? '').length + 1,
    atEnd: idx >= chars.length,
  };
}
