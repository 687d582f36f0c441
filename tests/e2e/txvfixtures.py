"""pytest fixtures shared by tests/e2e and tests/faults (imported by both conftest.py files)."""

from __future__ import annotations

import pytest

import txvtest

__all__ = ["txv_bin", "server", "make_server", "make_cluster"]


def stop_all(servers: list[txvtest.TxvServer]) -> None:
    """Stops every server still running with SIGTERM; each must exit 0."""
    errors = []
    for srv in servers:
        if srv.running():
            try:
                srv.stop(expect_exit=0)
            except AssertionError as e:
                errors.append(str(e))
        else:
            srv.close_connections()
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="session")
def txv_bin() -> str:
    try:
        return txvtest.txv_bin()
    except RuntimeError as e:
        pytest.exit(str(e), returncode=4)


@pytest.fixture(scope="module")
def server(txv_bin, tmp_path_factory):
    """One running server shared by the tests of a module.

    Keys (labels for ``request(key=...)``): admin, analyst, validator, scoped (a
    validator created with --merchant txvtest.SCOPED_MERCHANT).  Stopped with SIGTERM at
    the end of the module; exit code 0 is asserted.
    """
    srv = txvtest.TxvServer(tmp_path_factory.mktemp("srv"))
    srv.start()
    yield srv
    srv.stop(expect_exit=0)


@pytest.fixture
def make_server(txv_bin, tmp_path_factory):
    """Factory for servers with their own flags/env.

    ``make_server(extra_args=[...], env={...}, start=True, **TxvServer kwargs)``.  Every
    server still running at teardown is stopped with SIGTERM and must exit 0.
    """
    made: list[txvtest.TxvServer] = []

    def factory(extra_args=None, env=None, start=True, **kw) -> txvtest.TxvServer:
        srv = txvtest.TxvServer(tmp_path_factory.mktemp("srv"), extra_args=extra_args, env=env, **kw)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    stop_all(made)


@pytest.fixture
def make_cluster(txv_bin, tmp_path_factory):
    """Factory for N replicas of one service: ``make_cluster(n=3, env={...})``.

    Replica mode only (TXV_E2E_BACKEND=replica): the replicas share one fresh
    PostgreSQL database, one Redis database and one PAN key; keys are created
    once (labels as for ``server``) and shared. Stopped with SIGTERM at the end.
    """
    if not txvtest.REPLICA:
        pytest.skip("replica-mode test (TXV_E2E_BACKEND=replica)")
    made: list[txvtest.TxvServer] = []

    def factory(n=3, env=None, extra_args=None, **kw) -> list[txvtest.TxvServer]:
        backend = txvtest.ReplicaBackend()
        replicas = []
        for i in range(n):
            srv = txvtest.TxvServer(tmp_path_factory.mktemp(f"replica{i}"), extra_args=extra_args, env=env,
                                    create_keys=(i == 0), replica=backend, **kw)
            if i > 0:
                srv.share_keys_with(replicas[0])
            replicas.append(srv)
            made.append(srv)
        for srv in replicas:
            srv.start()
        return replicas

    yield factory
    stop_all(made)
