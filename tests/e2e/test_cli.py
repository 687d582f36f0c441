"""Section 1: the command line and configuration errors."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess

import pytest

from txvtest import TxvServer, clean_env, free_port, run_cli, txv_bin


def test_version(txv_bin):
    cp = run_cli(["version"])
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert len(lines) == 1
    assert re.search(r"\d+\.\d+\.\d+", lines[0]), lines


def test_apikey_create_prints_exactly_one_line(tmp_path):
    url = f"sqlite:{tmp_path / 'k.db'}"
    secrets = []
    for role, extra in [("admin", []), ("analyst", ["--name", "Alice Analyst"]),
                        ("validator", ["--merchant", "m-1", "--name", "shop"])]:
        cp = run_cli(["apikey", "create", "--role", role, "--database-url", url, *extra])
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.endswith("\n")
        lines = cp.stdout.splitlines()
        assert len(lines) == 1, cp.stdout
        secret = lines[0]
        assert secret and secret == secret.strip() and " " not in secret
        assert len(secret) >= 24
        secrets.append(secret)
    assert len(set(secrets)) == 3
    # Only a hash is stored: the secret is nowhere in the database files.
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("k.db"))
    for s in secrets:
        assert s.encode() not in blob


def test_apikey_create_env_database_url(tmp_path):
    url = f"sqlite:{tmp_path / 'env.db'}"
    cp = run_cli(["apikey", "create", "--role", "admin"], env={"TXV_DATABASE_URL": url})
    assert cp.returncode == 0, cp.stderr
    assert len(cp.stdout.splitlines()) == 1
    assert (tmp_path / "env.db").exists()


@pytest.mark.parametrize("args", [
    ["apikey", "create", "--role", "superuser"],
    ["apikey", "create"],
])
def test_apikey_create_bad_role(tmp_path, args):
    cp = run_cli([*args, "--database-url", f"sqlite:{tmp_path / 'x.db'}"])
    assert cp.returncode != 0
    assert cp.stdout == ""
    assert cp.stderr.strip()


def test_apikey_created_while_serving_works(make_server):
    srv = make_server()
    srv.create_key("late", "validator", merchant="m-late")
    r = srv.list_txns(key="late")
    assert r.status == 200, r


def test_migrate_twice(tmp_path):
    url = f"sqlite:{tmp_path / 'm.db'}"
    for _ in range(2):
        cp = run_cli(["migrate", "--database-url", url])
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout == ""
    con = sqlite3.connect(str(tmp_path / "m.db"))
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()
    assert "transactions" in tables and "api_keys" in tables


def test_migrate_via_env(tmp_path):
    cp = run_cli(["migrate"], env={"TXV_DATABASE_URL": f"sqlite:{tmp_path / 'e.db'}"})
    assert cp.returncode == 0, cp.stderr
    assert (tmp_path / "e.db").exists()


def test_serve_no_migrate_on_migrated_db(make_server):
    srv = make_server(start=False, extra_args=["--no-migrate"])
    cp = run_cli(["migrate", "--database-url", srv.database_url], env=srv.cli_env())
    assert cp.returncode == 0
    srv.start()
    assert srv.validate(__import__("txvtest").sample_txn()).status == 200


def run_serve_expect_config_error(args: list[str], env: dict[str, str] | None, cwd) -> subprocess.CompletedProcess:
    """Runs `txv serve` that must fail at once; a server that starts instead is killed and fails the test."""
    try:
        return subprocess.run([txv_bin(), *args], env=clean_env(env), capture_output=True, text=True, timeout=30,
                              cwd=str(cwd))
    except subprocess.TimeoutExpired:
        pytest.fail(f"txv {' '.join(args)} kept running instead of rejecting the configuration")


def assert_one_line_naming(cp: subprocess.CompletedProcess, *names: str) -> None:
    assert cp.returncode == 2, f"exit {cp.returncode}, stderr {cp.stderr!r}"
    lines = [ln for ln in cp.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {cp.stderr!r}"
    low = lines[0].lower()
    assert any(n.lower() in low for n in names), f"{lines[0]!r} does not name {names}"
    assert cp.stdout == ""


def good_db(tmp_path) -> str:
    return f"sqlite:{tmp_path / 'data' / 'txv.db'}"


@pytest.mark.parametrize("var,value", [
    ("TXV_LISTEN", "nonsense"),
    ("TXV_LISTEN", "127.0.0.1:99999"),
    ("TXV_LISTEN", "127.0.0.1:http"),
    ("TXV_LISTEN", "not-an-ip:8080"),
    ("TXV_LOG_LEVEL", "x"),
    ("TXV_LOG_LEVEL", "INFO!"),
    ("TXV_DATABASE_URL", "mysql://x"),
    ("TXV_DATABASE_URL", "sqlite:"),
    ("TXV_RATE_LIMIT", "-1"),
    ("TXV_RATE_LIMIT", "fast"),
    ("TXV_THREADS", "0"),
    ("TXV_THREADS", "many"),
    ("TXV_DRAIN_DELAY", "soon"),
    ("TXV_GRACE_PERIOD", "-5s"),
    ("TXV_PAN_KEY", "tooshort"),
    ("TXV_REDIS_URL", "memcached://x"),
])
def test_bad_env_config_exit_2(tmp_path, var, value):
    env = {"TXV_LISTEN": f"127.0.0.1:{free_port()}", "TXV_DATABASE_URL": good_db(tmp_path), var: value}
    cp = run_serve_expect_config_error(["serve"], env, tmp_path)
    assert_one_line_naming(cp, var)


@pytest.mark.parametrize("flag,value,names", [
    ("--listen", "nonsense", ("TXV_LISTEN", "--listen", "listen")),
    ("--log-level", "verbose", ("TXV_LOG_LEVEL", "--log-level", "log_level")),
    ("--database-url", "mysql://x", ("TXV_DATABASE_URL", "--database-url", "database_url")),
    ("--rate-limit", "x", ("TXV_RATE_LIMIT", "--rate-limit", "rate_limit")),
])
def test_bad_flag_config_exit_2(tmp_path, flag, value, names):
    args = ["serve", "--listen", f"127.0.0.1:{free_port()}", "--database-url", good_db(tmp_path), flag, value]
    cp = run_serve_expect_config_error(args, None, tmp_path)
    assert_one_line_naming(cp, *names)


def test_flag_wins_over_env(tmp_path):
    # A bad env value is overridden by a good flag: the server starts.
    srv = TxvServer(tmp_path / "fw", env={"TXV_LOG_LEVEL": "nonsense", "TXV_LISTEN": "nonsense"},
                    extra_args=["--log-level", "info"])
    srv.start()
    try:
        assert srv.request("GET", "/livez").status == 200
    finally:
        srv.stop()


def test_postgres_without_pan_key_exit_2(tmp_path):
    env = {"TXV_LISTEN": f"127.0.0.1:{free_port()}", "TXV_DATABASE_URL": "postgres://u:p@127.0.0.1:1/db"}
    cp = run_serve_expect_config_error(["serve"], env, tmp_path)
    assert_one_line_naming(cp, "TXV_PAN_KEY")


def test_unknown_config_file_key_exit_2(tmp_path):
    cfg = tmp_path / "txv.yaml"
    cfg.write_text(f"listen: 127.0.0.1:{free_port()}\ndatabase_url: {good_db(tmp_path)}\nfrobnicate: 3\n")
    cp = run_serve_expect_config_error(["serve", "--config", str(cfg)], None, tmp_path)
    assert_one_line_naming(cp, "frobnicate")
    assert "config" in cp.stderr.lower()


def test_bad_value_in_config_file_exit_2(tmp_path):
    cfg = tmp_path / "txv.yaml"
    cfg.write_text(f"listen: 127.0.0.1:{free_port()}\ndatabase_url: {good_db(tmp_path)}\nlog_level: loud\n")
    cp = run_serve_expect_config_error(["serve", "--config", str(cfg)], None, tmp_path)
    assert_one_line_naming(cp, "TXV_LOG_LEVEL", "log_level")


@pytest.mark.parametrize("kind", ["missing", "directory", "unreadable", "not-yaml", "not-a-mapping"])
def test_unreadable_config_file_exit_2(tmp_path, kind):
    path = tmp_path / "cfg.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "unreadable":
        if os.geteuid() == 0:
            # root reads mode-000 files; a path through a regular file is unreadable for anyone.
            (tmp_path / "plain").write_text("x")
            path = tmp_path / "plain" / "cfg.yaml"
        else:
            path.write_text("log_level: info\n")
            path.chmod(0)
    elif kind == "not-yaml":
        path.write_text("listen: [unclosed\n  : :\n")
    elif kind == "not-a-mapping":
        path.write_text("- a\n- b\n")
    env = {"TXV_LISTEN": f"127.0.0.1:{free_port()}", "TXV_DATABASE_URL": good_db(tmp_path)}
    cp = run_serve_expect_config_error(["serve", "--config", str(path)], env, tmp_path)
    assert_one_line_naming(cp, "--config", "config")


def test_config_file_is_used(tmp_path):
    port = free_port()
    cfg = tmp_path / "good.yaml"
    cfg.write_text(f"listen: 127.0.0.1:{port}\ndatabase_url: {good_db(tmp_path)}\nlog_level: warn\n"
                   "drain_delay: 0s\n")
    proc = subprocess.Popen([txv_bin(), "serve", "--config", str(cfg)], env=clean_env(), cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        import http.client
        from txvtest import poll

        def up():
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read())
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                c.request("GET", "/startupz")
                return c.getresponse().status == 200
            finally:
                c.close()
        poll(up, 30, what="server from --config")
    finally:
        proc.terminate()
        rc = proc.wait(timeout=30)
    assert rc == 0


def test_listen_port_in_use_exit_2(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        env = {"TXV_LISTEN": f"127.0.0.1:{port}", "TXV_DATABASE_URL": good_db(tmp_path)}
        cp = run_serve_expect_config_error(["serve"], env, tmp_path)
    assert_one_line_naming(cp, "TXV_LISTEN")


def test_embedded_defaults_create_data_dir_and_pan_key(tmp_path):
    # No TXV_DATABASE_URL: sqlite:./txv-data/txv.db relative to the working directory.
    port = free_port()
    proc = subprocess.Popen([txv_bin(), "serve", "--listen", f"127.0.0.1:{port}", "--drain-delay", "0s"],
                            env=clean_env(), cwd=str(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        import http.client
        from txvtest import poll

        def up():
            if proc.poll() is not None:
                raise AssertionError("exited")
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                c.request("GET", "/startupz")
                return c.getresponse().status == 200
            finally:
                c.close()
        poll(up, 30, what="embedded server")
        assert (tmp_path / "txv-data" / "txv.db").exists()
        key = tmp_path / "txv-data" / "pan.key"
        assert key.exists()
        assert key.stat().st_mode & 0o077 == 0, oct(key.stat().st_mode)
    finally:
        proc.terminate()
        rc = proc.wait(timeout=30)
    assert rc == 0
