"""Every 200 from validate comes after its decision's WAL was synced (fsync/fdatasync).

``kill -9`` cannot tell ``synchronous=FULL`` from ``OFF``: the page cache survives the process.
So the binary runs under an LD_PRELOAD shim (fsync_shim.c, compiled here with ``cc``) that logs,
in one global order (an atomic sequence number):

- SYNC: an fsync/fdatasync of a ``*-wal`` file completed,
- RECV: a socket read whose data starts with a request line (``POST /v1/transactions/validate``),
- SEND: the first byte of a response (``HTTP/1.1 200``) is about to be written,

and the test asserts that between the read of every validate request and the first byte of its
200 a WAL sync completed. With ``synchronous=OFF`` (no sync at all) or ``NORMAL`` (WAL synced only
at checkpoints) the check fails; ``test_checker_catches_skipped_syncs`` proves that by running the
shim in a mode where WAL syncs are skipped and not logged, and asserting the checker reports it.

The shim sees plain TCP only (the TLS library would write encrypted records): TLS stays off here.
"""

from __future__ import annotations

import concurrent.futures as cf
import http.client
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from txvtest import SANITIZED, card, make_pan, sample_txn, unique_merchant

SHIM_SOURCE = Path(__file__).resolve().with_name("fsync_shim.c")
VALIDATE = "POST /v1/transactions/validate"


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler (cc) to build the fsync shim: install build-essential")
    out = tmp_path_factory.mktemp("tmp") / "shim.so"
    cp = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(out), str(SHIM_SOURCE), "-ldl"],
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, f"cannot build the shim:\n{cp.stderr}"
    return out


@dataclass
class Event:
    seq: int
    ns: int
    tid: int
    kind: str  # SYNC, WALW, RECV, SEND
    fd: int
    rest: list[str]


def read_events(path: Path) -> list[Event]:
    events = []
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split(" ")
        if len(parts) < 5:
            continue  # never expected: one write(2) per line
        events.append(Event(int(parts[0]), int(parts[1]), int(parts[2]), parts[3], int(parts[4]), parts[5:]))
    events.sort(key=lambda e: e.seq)
    return events


@dataclass
class Exchange:
    fd: int
    recv_seq: int
    send_seq: int
    status: str
    syncs_between: int


@dataclass
class Report:
    exchanges: list[Exchange]   # validate requests answered 200
    violations: list[Exchange]  # ... without a WAL sync between request and response
    wal_syncs: list[Event]      # successful WAL syncs within [first validate read, last response]

    def summary(self) -> str:
        v = self.violations[:5]
        return (f"{len(self.exchanges)} validate 200s, {len(self.violations)} without a WAL sync between "
                f"request and response (first: {v}), {len(self.wal_syncs)} WAL syncs")


def check(events: list[Event]) -> Report:
    """Pairs each response with the last request read on the same socket before it."""
    last_request: dict[int, Event] = {}
    sync_seqs: list[int] = []
    exchanges: list[Exchange] = []
    for e in events:
        if e.kind == "SYNC":
            # SYNC <fd> <fsync|fdatasync> <ret> <path>
            if e.rest[1] == "0":
                sync_seqs.append(e.seq)
        elif e.kind == "RECV":
            last_request[e.fd] = e
        elif e.kind == "SEND":
            req = last_request.pop(e.fd, None)
            if req is None or " ".join(req.rest[1:]) != VALIDATE or e.rest[0] != "200":
                continue
            between = sum(1 for s in sync_seqs if req.seq < s < e.seq)
            exchanges.append(Exchange(e.fd, req.seq, e.seq, e.rest[0], between))
    first = min((x.recv_seq for x in exchanges), default=0)
    last = max((x.send_seq for x in exchanges), default=0)
    syncs = [e for e in events if e.kind == "SYNC" and e.rest[1] == "0" and first < e.seq < last]
    return Report(exchanges, [x for x in exchanges if x.syncs_between == 0], syncs)


def start_under_shim(make_server, shim: Path, log: Path, drop_sync: bool = False):
    env = {"LD_PRELOAD": str(shim), "FSYNC_SHIM_LOG": str(log)}
    if drop_sync:
        env["FSYNC_SHIM_DROP_SYNC"] = "1"
    if SANITIZED:  # the shim is preloaded ahead of the ASan runtime
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=99:verify_asan_link_order=0"
    return make_server(env=env)


def validate_body(merchant: str, i: int) -> dict:
    c = card("4242424242424242") if i % 2 == 0 else card(make_pan("4"))
    return sample_txn(merchant_id=merchant, transaction_id=f"d{i:05d}", card=c)


def sequential_validates(srv, n: int, merchant: str) -> list[int]:
    """n validates, one after another, on ONE keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    headers = {"Content-Type": "application/json", **srv.auth_header("admin")}
    statuses = []
    try:
        for i in range(n):
            conn.request("POST", "/v1/transactions/validate", body=json.dumps(validate_body(merchant, i)),
                         headers=headers)
            r = conn.getresponse()
            r.read()
            assert not r.will_close, "the server closed the keep-alive connection"
            statuses.append(r.status)
    finally:
        conn.close()
    return statuses


def test_every_200_follows_a_wal_sync(make_server, shim, tmp_path):
    log = tmp_path / "shim.log"
    srv = start_under_shim(make_server, shim, log)

    # 1. Sequential, one connection: each request is alone in its batch, so its own commit's
    #    sync must lie between its read and its response.
    n_seq = 50
    statuses = sequential_validates(srv, n_seq, unique_merchant("dur"))
    assert statuses == [200] * n_seq, statuses
    seq_report = check(read_events(log))
    assert len(seq_report.exchanges) == n_seq, (
        "the shim did not see every request and response (is the binary writing through an "
        f"interface the shim does not intercept?): {seq_report.summary()}")
    assert len({x.fd for x in seq_report.exchanges}) == 1, "expected one connection"
    assert not seq_report.violations, seq_report.summary()
    log_mark = max(e.seq for e in read_events(log))

    # 2. Concurrent: 200 validates over 16 connections. Group commit may put many requests in
    #    one batch (one sync), but every 200 still needs a sync after its own request was read.
    n_conc, n_conns = 200, 16
    m = unique_merchant("durc")
    bodies = [validate_body(m, i) for i in range(n_conc)]
    with cf.ThreadPoolExecutor(n_conns) as ex:
        results = list(ex.map(lambda b: srv.validate(b).status, bodies))
    assert results == [200] * n_conc, [s for s in results if s != 200][:5]
    conc_report = check([e for e in read_events(log) if e.seq > log_mark])
    assert len(conc_report.exchanges) == n_conc, conc_report.summary()
    assert not conc_report.violations, conc_report.summary()
    assert 1 <= len(conc_report.wal_syncs) <= n_conc, conc_report.summary()
    print(f"\nsequential: {seq_report.summary()}\nconcurrent: {conc_report.summary()}")
    srv.stop()


def test_checker_catches_skipped_syncs(make_server, shim, tmp_path):
    """The shim's self-check mode skips WAL syncs (as synchronous=OFF would): the check must fail."""
    log = tmp_path / "shim.log"
    srv = start_under_shim(make_server, shim, log, drop_sync=True)
    n = 20
    statuses = sequential_validates(srv, n, unique_merchant("nosync"))
    assert statuses == [200] * n, statuses
    report = check(read_events(log))
    assert len(report.exchanges) == n, report.summary()
    assert len(report.violations) == n, f"the checker missed skipped syncs: {report.summary()}"
    assert not report.wal_syncs
    srv.stop()
