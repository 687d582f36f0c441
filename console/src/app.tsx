import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, currentSession, setCsrfToken, setUnauthorizedHandler, signOut } from './api';
import { parseRoute } from './lib/route';
import type { Route } from './lib/route';
import { SessionContext } from './session';
import type { Session } from './types';
import { SignIn } from './pages/SignIn';
import { Queue } from './pages/Queue';
import { Transactions } from './pages/Transactions';
import { TransactionDetail } from './pages/TransactionDetail';
import { Rules } from './pages/Rules';
import { Lists } from './pages/Lists';
import { ListDetail } from './pages/ListDetail';
import { Audit } from './pages/Audit';
import { Dashboard } from './pages/Dashboard';

const SIGNED_IN_FLAG = 'txv_console_signed_in';
export const SESSION_ENDED = 'Your session has ended — sign in again.';

const NAV: { href: string; label: string; pages: Route['page'][] }[] = [
  { href: '#/queue', label: 'Review queue', pages: ['queue'] },
  { href: '#/transactions', label: 'Transactions', pages: ['transactions', 'transaction'] },
  { href: '#/rules', label: 'Rules', pages: ['rules'] },
  { href: '#/lists', label: 'Lists', pages: ['lists', 'list'] },
  { href: '#/audit', label: 'Audit log', pages: ['audit'] },
  { href: '#/dashboard', label: 'Dashboard', pages: ['dashboard'] },
];

function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function flag(set: boolean | null): boolean {
  try {
    if (set === true) sessionStorage.setItem(SIGNED_IN_FLAG, '1');
    else if (set === false) sessionStorage.removeItem(SIGNED_IN_FLAG);
    return sessionStorage.getItem(SIGNED_IN_FLAG) === '1';
  } catch {
    return false;
  }
}

export function App() {
  const [session, setSession] = useState<Session | null | 'loading'>('loading');
  const [message, setMessage] = useState<string | null>(null);
  const [probeError, setProbeError] = useState<string | null>(null);
  const route = useRoute();

  const ended = useCallback(() => {
    setCsrfToken('');
    flag(false);
    setMessage(SESSION_ENDED);
    setSession(null);
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(ended);
    currentSession()
      .then((s) => {
        setCsrfToken(s.csrf_token);
        flag(true);
        setSession(s);
      })
      .catch((err: ApiError) => {
        if (err.status === 401) {
          // Signed in before in this tab, and the server no longer knows the session.
          if (flag(null)) setMessage(SESSION_ENDED);
          flag(false);
          setSession(null);
        } else {
          setProbeError(err.message);
          setSession(null);
        }
      });
    return () => setUnauthorizedHandler(null);
  }, [ended]);

  useEffect(() => {
    const page = session && session !== 'loading' ? NAV.find((n) => n.pages.includes(route.page))?.label : 'Sign in';
    document.title = `${page ?? 'Not found'} · txv console`;
  }, [route, session]);

  if (session === 'loading') {
    return (
      <main id="main">
        <p role="status">Loading the txv console…</p>
      </main>
    );
  }

  if (session === null) {
    return (
      <SignIn
        message={message ?? (probeError ? `Could not check your session: ${probeError}` : null)}
        onSignedIn={async (s) => {
          setCsrfToken(s.csrf_token);
          flag(true);
          setMessage(null);
          setProbeError(null);
          // The sign-in answer has no key name; read the whole session once.
          try {
            const full = await currentSession();
            setCsrfToken(full.csrf_token);
            setSession(full);
          } catch {
            setSession(s);
          }
        }}
      />
    );
  }

  async function doSignOut() {
    try {
      await signOut();
    } catch {
      // Signed out either way: the cookie is the server's to forget.
    }
    setCsrfToken('');
    flag(false);
    setMessage('You have signed out.');
    setSession(null);
  }

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">txv console</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            {session.name ?? 'signed in'} <span class="badge badge-role">{session.role}</span>
          </span>
          <button type="button" onClick={doSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </SessionContext.Provider>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'queue':
      return <Queue />;
    case 'transactions':
      return <Transactions query={route.query} />;
    case 'transaction':
      return <TransactionDetail key={`${route.merchantId}/${route.transactionId}`} merchantId={route.merchantId} transactionId={route.transactionId} />;
    case 'rules':
      return <Rules />;
    case 'lists':
      return <Lists />;
    case 'list':
      return <ListDetail key={route.name} name={route.name} />;
    case 'audit':
      return <Audit query={route.query} />;
    case 'dashboard':
      return <Dashboard />;
    default:
      return (
        <>
          <h1>Not found</h1>
          <p>
            There is no page <code>{route.path}</code>. Go to the <a href="#/queue">review queue</a>.
          </p>
        </>
      );
  }
}
