"""Helpers for txv's end-to-end and fault suites.

Everything here talks to the REAL binary (``TXV_BIN``) over a real socket on
127.0.0.1.  Only the Python standard library is used.

Importable from tests/e2e (same directory) and from tests/faults (whose
conftest puts this directory on sys.path).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

# --------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]
SANITIZED = os.environ.get("TXV_SANITIZED", "") not in ("", "0", "false", "no")

# Deadlines (seconds). Generous: they bound waiting, they are never asserted on.
STARTUP_DEADLINE = 60.0 if SANITIZED else 30.0
REQUEST_TIMEOUT = 60.0 if SANITIZED else 30.0
STOP_DEADLINE = 60.0 if SANITIZED else 30.0

VALID_ROLES = ("admin", "analyst", "validator")
SCOPED_MERCHANT = "m-scoped"
OTHER_MERCHANT = "m-other"

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


# Which back-end a TxvServer runs on: "sqlite" (embedded, the default) or
# "replica" (PostgreSQL + Redis from scripts/test-servers.sh: TXV_TEST_DATABASE_URL,
# TXV_TEST_REDIS_URL). `make test` runs the suite once per back-end.
BACKEND = os.environ.get("TXV_E2E_BACKEND", "sqlite")
REPLICA = BACKEND == "replica"


def scaled(normal: int, sanitized: int) -> int:
    """A count for a heavy loop: smaller under ASan/UBSan."""
    return sanitized if SANITIZED else normal


def txv_bin() -> str:
    path = os.environ.get("TXV_BIN")
    if not path:
        default = REPO_ROOT / "build" / "txv"
        if default.exists():
            return str(default)
        raise RuntimeError("set TXV_BIN=/abs/path/to/txv")
    if not os.path.isabs(path):
        path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"TXV_BIN={path} is not an executable file")
    return path


class _Exited(Exception):
    """Raised by a poll predicate to stop polling at once (the process is gone)."""


def poll(predicate: Callable[[], Any], deadline: float, interval: float = 0.02, what: str = "condition"):
    """Calls predicate until it returns a truthy value or ``deadline`` seconds pass.

    Returns the truthy value; raises AssertionError on timeout.  Exceptions raised by
    predicate count as "not yet" (except _Exited, which ends the wait at once).
    """
    end = time.monotonic() + deadline
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except _Exited:
            raise AssertionError(f"process exited while waiting for {what}")
        except Exception as e:  # noqa: BLE001 - "not yet"
            last_exc = e
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {deadline}s waiting for {what}" +
                                 (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a txv process: ours minus every TXV_* (tests are explicit)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TXV_")}
    if SANITIZED:
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=99")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=98")
    if extra:
        env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0,
            cwd: str | None = None) -> subprocess.CompletedProcess:
    """Runs ``txv ARGS`` and returns the completed process (text mode)."""
    return subprocess.run([txv_bin(), *args], env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


# --------------------------------------------------------------------------
# Replica mode: PostgreSQL + Redis
# --------------------------------------------------------------------------


def _test_server_url(name: str) -> str:
    url = os.environ.get(name)
    if not url:
        raise RuntimeError(f"TXV_E2E_BACKEND=replica needs {name} (scripts/test-servers.sh start DIR; . DIR/env)")
    return url


def psql(url: str, sql: str) -> str:
    """Runs SQL with psql (Debian's postgresql-client) and returns its unaligned output."""
    cp = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, f"psql failed: {cp.stderr}"
    return cp.stdout


def redis_command(url: str, *args: str) -> Any:
    """One command over RESP (AUTH and SELECT from the URL); returns the decoded reply."""
    from urllib.parse import unquote, urlparse
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port or 6379), timeout=10) as sock:
        f = sock.makefile("rb")

        def send(*words: str) -> Any:
            out = f"*{len(words)}\r\n".encode()
            for w in words:
                b = w.encode()
                out += f"${len(b)}\r\n".encode() + b + b"\r\n"
            sock.sendall(out)
            return _read_resp(f)

        if u.password:
            send(*(["AUTH", unquote(u.username), unquote(u.password)] if u.username else
                   ["AUTH", unquote(u.password)]))
        db = (u.path or "/0").lstrip("/") or "0"
        send("SELECT", db)
        return send(*args)


def _read_resp(f) -> Any:
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_resp(f) for _ in range(n)]
    raise RuntimeError(f"unexpected RESP: {line!r}")


_redis_dbs = itertools.cycle(range(1, 16))
_redis_dbs_lock = threading.Lock()


class ReplicaBackend:
    """A fresh PostgreSQL database and an emptied Redis database, shared by the
    replicas (TxvServers) given it, with one PAN key for all of them."""

    def __init__(self) -> None:
        base = _test_server_url("TXV_TEST_DATABASE_URL")
        name = "txv_e2e_" + uuid.uuid4().hex[:16]
        psql(base, f"CREATE DATABASE {name}")
        from urllib.parse import urlparse, urlunparse
        u = urlparse(base)
        self.database_url = urlunparse(u._replace(path="/" + name))
        redis = _test_server_url("TXV_TEST_REDIS_URL")
        with _redis_dbs_lock:
            db = next(_redis_dbs)
        r = urlparse(redis)
        self.redis_url = urlunparse(r._replace(path=f"/{db}"))
        redis_command(self.redis_url, "FLUSHDB")
        self.pan_key = os.urandom(32).hex()

    @property
    def env(self) -> dict[str, str]:
        return {"TXV_REDIS_URL": self.redis_url, "TXV_PAN_KEY": self.pan_key}

    def sql(self, statement: str) -> str:
        return psql(self.database_url, statement)

    def dump(self, prefix: Path) -> list[Path]:
        """Writes everything stored (PostgreSQL and Redis) to files and returns them."""
        pg = Path(f"{prefix}.sql")
        cp = subprocess.run(["pg_dump", "--no-owner", "-d", self.database_url, "-f", str(pg)],
                            capture_output=True, text=True, timeout=120)
        assert cp.returncode == 0, f"pg_dump failed: {cp.stderr}"
        lines = []
        cursor = "0"
        while True:
            cursor, keys = redis_command(self.redis_url, "SCAN", cursor, "COUNT", "1000")
            for key in keys:
                kind = redis_command(self.redis_url, "TYPE", key)
                if kind == "string":
                    value = redis_command(self.redis_url, "GET", key)
                elif kind == "hash":
                    value = redis_command(self.redis_url, "HGETALL", key)
                elif kind == "zset":
                    value = redis_command(self.redis_url, "ZRANGE", key, "0", "-1", "WITHSCORES")
                elif kind == "set":
                    value = redis_command(self.redis_url, "SMEMBERS", key)
                elif kind == "list":
                    value = redis_command(self.redis_url, "LRANGE", key, "0", "-1")
                else:
                    value = None
                lines.append(json.dumps([key, kind, value]))
            if cursor == "0":
                break
        rd = Path(f"{prefix}.redis.jsonl")
        rd.write_text("\n".join(lines) + "\n")
        return [pg, rd]


# --------------------------------------------------------------------------
# Cards and transactions
# --------------------------------------------------------------------------


def luhn_check_digit(partial: str) -> str:
    total = 0
    # Walking right to left over the partial number, the first digit is doubled
    # (it becomes the second from the right once the check digit is appended).
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


_pan_rng = random.Random(int.from_bytes(os.urandom(8), "big"))
_pan_lock = threading.Lock()
_pans_issued: set[str] = set()


def make_pan(prefix: str = "4", length: int = 16, valid: bool = True) -> str:
    """A fresh (never issued before in this process) card number with the given prefix.

    ``valid=False`` gives a number whose check digit is wrong.
    """
    with _pan_lock:
        while True:
            body = prefix + "".join(str(_pan_rng.randrange(10)) for _ in range(length - len(prefix) - 1))
            check = luhn_check_digit(body)
            if not valid:
                check = str((int(check) + 1 + _pan_rng.randrange(9)) % 10)
            pan = body + check
            if pan not in _pans_issued:
                _pans_issued.add(pan)
                return pan


_ids = itertools.count(1)
_run = uuid.uuid4().hex[:8]


def unique_id(prefix: str = "t") -> str:
    """A transaction id unique across this test run (and across runs)."""
    return f"{prefix}-{_run}-{next(_ids)}"


def unique_merchant(prefix: str = "m") -> str:
    return f"{prefix}-{_run}-{next(_ids)}"


DEFAULT_OCCURRED_AT = "2026-11-24T10:00:00Z"


def sample_txn(**overrides: Any) -> dict:
    """A valid transaction (approve with no rules) with a unique transaction_id.

    Keyword overrides replace top-level members; pass ``card=...`` etc. to replace
    nested objects whole.  A value of ``DROP`` removes the member.
    """
    body = {
        "transaction_id": unique_id(),
        "merchant_id": "m-42",
        "type": "purchase",
        "amount": 12550,
        "currency": "USD",
        "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2030},
        "customer": {"id": "c-7", "email": "a@example.com", "ip": "203.0.113.7", "country": "US",
                     "device_id": "d-1"},
        "merchant": {"mcc": "5411", "country": "US"},
        "occurred_at": DEFAULT_OCCURRED_AT,
        "metadata": {"channel": "web"},
    }
    for k, v in overrides.items():
        if v is DROP:
            body.pop(k, None)
        else:
            body[k] = v
    return body


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP = _Drop()


def card(number: str, month: int = 12, year: int = 2030) -> dict:
    return {"number": number, "expiry_month": month, "expiry_year": year}


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    body: bytes
    reason: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"response is not JSON ({e}): status {self.status} body {self.body[:500]!r}")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def __repr__(self) -> str:
        return f"Resp({self.status}, {self.body[:400]!r})"


def assert_error(resp: Resp, status: int, code: str, details: Iterable[tuple[str, str]] | None = None,
                 exact_details: bool = False) -> dict:
    """Asserts the contract's error shape and returns the inner error object.

    ``details``: (field, issue) pairs that must each be present; with exact_details
    the set must be equal.
    """
    assert resp.status == status, f"expected {status} {code}, got {resp!r}"
    ctype = resp.header("content-type") or ""
    assert ctype.split(";")[0].strip().lower() == "application/json", f"content-type {ctype!r} on {resp!r}"
    doc = resp.json
    assert isinstance(doc, dict) and set(doc) == {"error"}, f"error envelope: {doc!r}"
    err = doc["error"]
    assert isinstance(err, dict), err
    assert set(err) >= {"code", "message", "details"}, f"error members: {err!r}"
    assert set(err) <= {"code", "message", "details"}, f"unexpected error members: {err!r}"
    assert err["code"] == code, f"expected code {code}, got {err!r}"
    assert isinstance(err["message"], str) and err["message"].strip(), err
    assert isinstance(err["details"], list), err
    for d in err["details"]:
        assert isinstance(d, dict) and set(d) == {"field", "issue"}, f"detail shape: {d!r}"
        assert isinstance(d["field"], str) and isinstance(d["issue"], str), d
        assert re.fullmatch(r"[a-z][a-z0-9_]*", d["issue"]), f"issue not snake_case: {d!r}"
    if details is not None:
        got = {(d["field"], d["issue"]) for d in err["details"]}
        want = set(details)
        if exact_details:
            assert got == want, f"details: expected {sorted(want)}, got {sorted(got)}"
        else:
            missing = want - got
            assert not missing, f"details missing {sorted(missing)}; got {sorted(got)}"
    return err


def detail_fields(err: dict) -> set[str]:
    return {d["field"] for d in err["details"]}


class TxvServer:
    """One ``txv serve`` process on a free port with its own data directory.

    Usage::

        srv = TxvServer(tmp_path)      # creates the data dir and API keys
        srv.start()
        r = srv.request("POST", "/v1/transactions/validate", sample_txn(), key="admin")
        srv.stop()                      # SIGTERM, asserts exit 0
    """

    def __init__(self, base_dir: str | os.PathLike | None = None, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None, create_keys: bool = True, record_bodies: bool = False,
                 drain_delay: str = "0s", grace_period: str = "20s", threads: int | None = None,
                 replica: ReplicaBackend | None = None):
        if base_dir is None:
            base_dir = tempfile.mkdtemp(prefix="txv-e2e-")
        self.base = Path(base_dir)
        self.data_dir = self.base / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / "txv.db"
        self.database_url = f"sqlite:{self.db_path}"
        self.replica: ReplicaBackend | None = replica or (ReplicaBackend() if REPLICA else None)
        self.extra_args = list(extra_args or [])
        self.env = dict(env or {})
        if self.replica is not None:
            self.database_url = self.replica.database_url
            self.env = {**self.replica.env, **self.env}
        self.drain_delay = drain_delay
        self.grace_period = grace_period
        self.threads = threads
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.generation = 0
        self.log_paths: list[Path] = []
        self.keys: dict[str, str] = {}
        self.key_names: dict[str, str] = {}
        self.record_bodies = record_bodies
        self.recorded: list[bytes] = []
        self._rec_lock = threading.Lock()
        self._local = threading.local()
        self._all_conns: list[http.client.HTTPConnection] = []
        self._conns_lock = threading.Lock()
        if create_keys:
            self.create_standard_keys()

    # ---- keys ---------------------------------------------------------

    def create_key(self, label: str, role: str, merchant: str | None = None, name: str | None = None) -> str:
        args = ["apikey", "create", "--role", role, "--database-url", self.database_url]
        if merchant is not None:
            args += ["--merchant", merchant]
        name = name or f"{label}-key"
        args += ["--name", name]
        cp = run_cli(args, env=self.cli_env())
        assert cp.returncode == 0, f"txv {' '.join(args)} -> {cp.returncode}: {cp.stderr}"
        lines = cp.stdout.splitlines()
        assert len(lines) == 1 and lines[0].strip(), f"apikey create stdout: {cp.stdout!r}"
        self.keys[label] = lines[0].strip()
        self.key_names[label] = name
        return self.keys[label]

    def create_legacy_unscoped_validator(self, label: str) -> str:
        """A validator key with no merchant, as `apikey create` made them before the
        contract required --merchant: stored rows like it may exist, and txv still
        honours them (for every merchant). Inserted directly, since the CLI now
        refuses to make one."""
        import hashlib
        subprocess.run([txv_bin(), "migrate", "--database-url", self.database_url], check=True,
                       capture_output=True, env=clean_env(self.cli_env()))
        secret = "txv_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
        name = f"{label}-key"
        if self.replica is not None:
            self.replica.sql("INSERT INTO api_keys (id, name, role, merchant_id, secret_hash, created_at)"
                             f" VALUES ('key_{uuid.uuid4().hex[:12]}', '{name}', 'validator', NULL,"
                             f" '{hashlib.sha256(secret.encode()).hexdigest()}', {int(time.time() * 1000)})")
            self.keys[label] = secret
            self.key_names[label] = name
            return secret
        with sqlite3.connect(self.db_path) as db:
            db.execute("INSERT INTO api_keys (id, name, role, merchant_id, secret_hash, created_at)"
                       " VALUES (?, ?, 'validator', NULL, ?, ?)",
                       (f"key_{uuid.uuid4().hex[:12]}", name, hashlib.sha256(secret.encode()).hexdigest(),
                        int(time.time() * 1000)))
        self.keys[label] = secret
        self.key_names[label] = name
        return secret

    def cli_env(self) -> dict[str, str]:
        """What a CLI call against this server's database needs (the PAN key in replica mode)."""
        return dict(self.replica.env) if self.replica is not None else {}

    def share_keys_with(self, other: "TxvServer") -> None:
        """Uses the keys `other` created (replicas of one service share a database)."""
        self.keys = dict(other.keys)
        self.key_names = dict(other.key_names)

    def create_standard_keys(self) -> None:
        self.create_key("admin", "admin")
        self.create_key("analyst", "analyst")
        self.create_legacy_unscoped_validator("validator")
        self.create_key("scoped", "validator", merchant=SCOPED_MERCHANT)

    # ---- process ------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr_path(self) -> Path:
        return self.log_paths[-1] if self.log_paths else self.base / "none"

    def command(self) -> list[str]:
        cmd = [txv_bin(), "serve", "--listen", f"127.0.0.1:{self.port}", "--database-url", self.database_url,
               "--drain-delay", self.drain_delay, "--grace-period", self.grace_period]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd + self.extra_args

    def start(self, deadline: float = STARTUP_DEADLINE) -> "TxvServer":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.close_connections()
        last_err = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.generation += 1
            out = open(self.base / f"stdout.{self.generation}.log", "wb")
            err_path = self.base / f"stderr.{self.generation}.log"
            err = open(err_path, "wb")
            self.log_paths.append(self.base / f"stdout.{self.generation}.log")
            self.log_paths.append(err_path)
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=clean_env(self.env), cwd=str(self.base))
            out.close()
            err.close()
            try:
                poll(self._started, deadline, what=f"/startupz on port {self.port}")
                return self
            except AssertionError:
                rc = self.proc.poll()
                last_err = err_path.read_text(errors="replace")
                if rc is None:
                    self.kill9()
                    raise AssertionError(f"txv did not become started within {deadline}s; stderr:\n{last_err}")
                if "TXV_LISTEN" in last_err and "cannot listen" in last_err:
                    continue
                raise AssertionError(f"txv serve exited {rc} at start; stderr:\n{last_err}")
        raise AssertionError(f"txv could not bind a free port; stderr:\n{last_err}")

    def _started(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise _Exited()
        try:
            r = self.request("GET", "/startupz", fresh=True, timeout=2.0)
        except OSError:
            return False
        return r.status == 200

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_DEADLINE) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"txv did not exit within {timeout}s; stderr tail:\n{self.stderr_tail()}")

    def stop(self, expect_exit: int | None = 0, timeout: float = STOP_DEADLINE) -> int | None:
        """SIGTERM and wait; asserts the exit code (unless expect_exit is None)."""
        self.close_connections()
        if self.proc is None or self.proc.poll() is not None:
            rc = self.proc.returncode if self.proc else None
        else:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait(timeout)
        if expect_exit is not None:
            assert rc == expect_exit, f"txv exited {rc}, expected {expect_exit}; stderr tail:\n{self.stderr_tail()}"
        self.check_sanitizer_reports()
        return rc

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stderr_tail(self, n: int = 40) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def all_logs(self) -> bytes:
        out = b""
        for p in self.log_paths:
            try:
                out += p.read_bytes()
            except OSError:
                pass
        return out

    def check_sanitizer_reports(self) -> None:
        logs = self.all_logs().decode("utf-8", errors="replace")
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            assert marker not in logs, f"sanitizer report in txv logs:\n{logs[logs.find(marker) - 200:][:4000]}"

    # ---- HTTP ---------------------------------------------------------

    def _conn(self, timeout: float) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None or getattr(self._local, "port", None) != self.port:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            self._local.conn = c
            self._local.port = self.port
            self._local.used = False
            with self._conns_lock:
                self._all_conns.append(c)
        c.timeout = timeout
        if c.sock is not None:
            c.sock.settimeout(timeout)
        return c

    def _drop_conn(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
        self._local.conn = None

    def close_connections(self) -> None:
        with self._conns_lock:
            conns, self._all_conns = self._all_conns, []
        for c in conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        self._local = threading.local()

    def auth_header(self, key: str | None) -> dict[str, str]:
        if key is None:
            return {}
        secret = self.keys.get(key, key)
        return {"Authorization": f"Bearer {secret}"}

    def request(self, method: str, path: str, body: Any = None, key: str | None = None,
                headers: dict[str, str | None] | None = None, raw: bytes | None = None,
                fresh: bool = False, timeout: float = REQUEST_TIMEOUT) -> Resp:
        """One HTTP exchange over a keep-alive connection (one per thread).

        key: a label from self.keys ("admin", "analyst", "validator", "scoped") or a
        literal secret; None sends no Authorization header.
        body: JSON-encoded with Content-Type application/json.  raw: bytes sent as-is
        (Content-Type application/json unless headers say otherwise).  A header
        value of None removes that header.  fresh: use a new connection, closed after.
        """
        hdrs: dict[str, str] = {}
        payload: bytes | None = None
        if body is not None and raw is not None:
            raise ValueError("body or raw, not both")
        if body is not None:
            payload = json.dumps(body).encode()
        elif raw is not None:
            payload = raw
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        hdrs.update(self.auth_header(key))
        for k, v in (headers or {}).items():
            for existing in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        if fresh:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                return self._exchange(c, method, path, payload, hdrs)
            finally:
                c.close()
        for attempt in (0, 1):
            c = self._conn(timeout)
            reused = c.sock is not None
            try:
                resp = self._exchange(c, method, path, payload, hdrs)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self._drop_conn()
                if attempt == 0 and reused:
                    continue  # the server closed an idle keep-alive connection
                raise
            except Exception:
                self._drop_conn()
                raise
            if (resp.header("connection") or "").lower() == "close":
                self._drop_conn()
            return resp
        raise AssertionError("unreachable")

    def _exchange(self, c: http.client.HTTPConnection, method: str, path: str, payload: bytes | None,
                  hdrs: dict[str, str]) -> Resp:
        c.request(method, path, body=payload, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.reason)
        if self.record_bodies:
            with self._rec_lock:
                self.recorded.append(data)
                self.recorded.append(str(r.getheaders()).encode())
        return resp

    def post_oversized(self, path: str, raw: bytes, key: str | None = "admin",
                       content_type: str = "application/json") -> Resp:
        """POSTs a body the server will refuse early (413) on a new connection and reads the answer
        even if the server stops reading the body (as curl does)."""
        auth = "".join(f"{k}: {v}\r\n" for k, v in self.auth_header(key).items())
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{auth}"
                f"Content-Length: {len(raw)}\r\n\r\n").encode()
        r = send_body_read_early_response(self.port, head, raw)
        if self.record_bodies:
            with self._rec_lock:
                self.recorded.append(r.body)
                self.recorded.append(str(r.headers).encode())
        return r

    # ---- API shortcuts -------------------------------------------------

    def validate(self, body: Any, key: str | None = "admin", **kw) -> Resp:
        return self.request("POST", "/v1/transactions/validate", body, key=key, **kw)

    def validate_ok(self, body: Any, key: str | None = "admin") -> dict:
        r = self.validate(body, key=key)
        assert r.status == 200, f"validate: {r!r}"
        return r.json

    def validate_batch(self, items: list, key: str | None = "admin", **kw) -> Resp:
        return self.request("POST", "/v1/transactions/validate-batch", {"transactions": items}, key=key, **kw)

    def get_txn(self, merchant_id: str, transaction_id: str, key: str | None = "admin") -> Resp:
        from urllib.parse import quote
        return self.request("GET", f"/v1/transactions/{quote(merchant_id, safe='')}/{quote(transaction_id, safe='')}",
                            key=key)

    def list_txns(self, key: str | None = "admin", **params: Any) -> Resp:
        from urllib.parse import urlencode
        q = urlencode({k: v for k, v in params.items() if v is not None})
        return self.request("GET", "/v1/transactions" + (f"?{q}" if q else ""), key=key)

    def list_all(self, key: str | None = "admin", limit: int = 500, max_pages: int = 1000, **params: Any) -> list:
        items: list = []
        cursor = None
        for _ in range(max_pages):
            r = self.list_txns(key=key, limit=limit, cursor=cursor, **params)
            assert r.status == 200, r
            doc = r.json
            items.extend(doc["items"])
            cursor = doc["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("too many pages")

    def resolve(self, merchant_id: str, transaction_id: str, body: Any, key: str | None = "analyst") -> Resp:
        from urllib.parse import quote
        return self.request(
            "POST",
            f"/v1/transactions/{quote(merchant_id, safe='')}/{quote(transaction_id, safe='')}/resolution",
            body, key=key)

    # Labels (section 9).
    def label(self, merchant_id: str, transaction_id: str, body: Any, key: str | None = "analyst", **kw) -> Resp:
        from urllib.parse import quote
        return self.request(
            "POST", f"/v1/transactions/{quote(merchant_id, safe='')}/{quote(transaction_id, safe='')}/labels",
            body, key=key, **kw)

    def label_batch(self, items: list, key: str | None = "analyst", **kw) -> Resp:
        return self.request("POST", "/v1/labels/batch", {"labels": items}, key=key, **kw)

    # Rules / lists / audit (issue 4): thin wrappers so later tests stay short.
    def create_rule(self, rule: dict, key: str | None = "admin") -> Resp:
        return self.request("POST", "/v1/rules", rule, key=key)

    def put_list(self, name: str, entries: list[str], key: str | None = "admin") -> Resp:
        return self.request("PUT", f"/v1/lists/{name}", {"entries": entries}, key=key)

    def audit(self, key: str | None = "admin", **params: Any) -> Resp:
        from urllib.parse import urlencode
        q = urlencode({k: v for k, v in params.items() if v is not None})
        return self.request("GET", "/v1/audit" + (f"?{q}" if q else ""), key=key)

    def metrics_text(self) -> str:
        r = self.request("GET", "/metrics")
        assert r.status == 200, r
        return r.text

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return metric_value(self.metrics_text(), name, labels)

    # ---- database -----------------------------------------------------

    def db(self) -> sqlite3.Connection:
        """A connection to the server's SQLite file (for inspection; use while stopped to write).
        Embedded mode only: a test that inspects the file is skipped in replica mode."""
        if self.replica is not None:
            import pytest
            pytest.skip("inspects the embedded SQLite file")
        return sqlite3.connect(str(self.db_path), timeout=30)

    def db_files(self) -> list[Path]:
        """The files holding this server's stored data. Replica mode: a fresh dump of its
        PostgreSQL database (pg_dump) and of its Redis database (every key and value)."""
        if self.replica is not None:
            return self.replica.dump(self.base / "storage-dump")
        return [p for p in (self.db_path, Path(f"{self.db_path}-wal"), Path(f"{self.db_path}-shm"),
                            Path(f"{self.db_path}-journal")) if p.exists()]


# --------------------------------------------------------------------------
# Prometheus text parsing
# --------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Sample:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    value: float = 0.0


def parse_metrics(text: str) -> list[Sample]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"unparseable metrics line: {line!r}"
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out.append(Sample(m.group(1), labels, float(m.group(4))))
    return out


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for s in parse_metrics(text):
        if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
            total += s.value
    return total


def metric_types(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                out[parts[2]] = parts[3]
    return out


# --------------------------------------------------------------------------
# Raw sockets
# --------------------------------------------------------------------------


def raw_exchange(port: int, data: bytes, timeout: float = REQUEST_TIMEOUT, shut_write: bool = False) -> bytes:
    """Sends bytes on a new connection and returns everything read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def parse_raw_response(data: bytes) -> Resp:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines and lines[0].startswith("HTTP/1."), f"not an HTTP response: {data[:200]!r}"
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Resp(status, headers, body)


def send_body_read_early_response(port: int, head: bytes, body: bytes, timeout: float = REQUEST_TIMEOUT) -> Resp:
    """Sends a request whose body the server may refuse part-way (413) and reads its answer.

    Like curl, keeps reading when the server answers before the whole body was sent.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        try:
            for i in range(0, len(body), 16384):
                s.sendall(body[i:i + 16384])
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
            data = b"".join(chunks)
            if b"\r\n\r\n" in data:
                r = parse_raw_response(data)
                if len(data.partition(b"\r\n\r\n")[2]) >= int(r.header("content-length") or 0):
                    break
    data = b"".join(chunks)
    assert data, "connection closed without any response"
    return parse_raw_response(data)


def connection_refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


# A card velocity rule the replica suites share: the third decision for a card within an hour is declined.
THREE_PER_HOUR_CARD_RULE = {
    "name": "three per hour",
    "expression": "velocity('card', '1h').count >= 3",
    "action": "decline",
    "code": "card_velocity",
    "priority": 1,
    "mode": "enforce",
}
