import { parseQuery } from './query';

export type Route =
  | { page: 'queue' }
  | { page: 'transactions'; query: Record<string, string> }
  | { page: 'transaction'; merchantId: string; transactionId: string }
  | { page: 'rules' }
  | { page: 'lists' }
  | { page: 'list'; name: string }
  | { page: 'audit'; query: Record<string, string> }
  | { page: 'dashboard' }
  | { page: 'notfound'; path: string };

function dec(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses `#/transactions/M/T`, `#/lists/NAME`, `#/audit?object_type=rule`, … */
export function parseRoute(hash: string): Route {
  let h = hash.startsWith('#') ? hash.slice(1) : hash;
  if (h === '' || h === '/') return { page: 'queue' };
  let qs = '';
  const qi = h.indexOf('?');
  if (qi >= 0) {
    qs = h.slice(qi + 1);
    h = h.slice(0, qi);
  }
  const seg = h.split('/').filter((s) => s !== '').map(dec);
  const query = parseQuery(qs);
  switch (seg[0]) {
    case 'queue':
      if (seg.length === 1) return { page: 'queue' };
      break;
    case 'transactions':
      if (seg.length === 1) return { page: 'transactions', query };
      if (seg.length === 3) return { page: 'transaction', merchantId: seg[1]!, transactionId: seg[2]! };
      break;
    case 'rules':
      if (seg.length === 1) return { page: 'rules' };
      break;
    case 'lists':
      if (seg.length === 1) return { page: 'lists' };
      if (seg.length === 2) return { page: 'list', name: seg[1]! };
      break;
    case 'audit':
      if (seg.length === 1) return { page: 'audit', query };
      break;
    case 'dashboard':
      if (seg.length === 1) return { page: 'dashboard' };
      break;
  }
  return { page: 'notfound', path: h };
}

export const txHref = (m: string, t: string): string =>
  `#/transactions/${encodeURIComponent(m)}/${encodeURIComponent(t)}`;
export const listHref = (name: string): string => `#/lists/${encodeURIComponent(name)}`;
