"""The README's "Testing a rule before it goes live": every command of its shell blocks, run as written.

The blocks run in a scratch directory where ./build/txv is the binary under test and scripts/ the
repository's, against a fresh server (TXV_URL), with the database the server uses.
"""

from __future__ import annotations

import os
import re
import subprocess

from txvtest import REPO_ROOT, clean_env, scaled, txv_bin


def guide_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## Testing a rule before it goes live")
    section = text[start:text.index("\n## ", start + 5)]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2, f"expected the guide's two sh blocks, found {len(blocks)}"
    return blocks


def test_every_command_of_the_guide_runs(make_server, tmp_path):
    srv = make_server()
    (tmp_path / "build").mkdir()
    os.symlink(txv_bin(), tmp_path / "build" / "txv")
    os.symlink(REPO_ROOT / "scripts", tmp_path / "scripts")
    env = clean_env({**srv.cli_env(), "TXV_URL": srv.base_url, "TXV_DATABASE_URL": srv.database_url})
    # One shell, as a reader's terminal: the second block uses what the first exported.
    marker = "=== next guide block ==="
    script = "set -euo pipefail\n" + f"\necho '{marker}'\n".join(guide_blocks())
    cp = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                        timeout=scaled(120, 600))
    assert cp.returncode == 0, f"the guide failed ({cp.returncode}):\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}"
    outputs = cp.stdout.split(marker + "\n")
    assert len(outputs) == 2, cp.stdout
    history, plan = outputs
    m = re.search(r"make-history: 1500 transactions decided .*labels.csv: (\d+) fraud, (\d+) not_fraud", history)
    assert m and int(m.group(1)) > 0, history
    accepted = re.search(r"(\d+) rows accepted, 0 rows refused", history)
    assert accepted and int(accepted.group(1)) == int(m.group(1)) + int(m.group(2)), history
    assert "card testing" in plan and "approve->decline" in plan, plan
    rules = srv.request("GET", "/v1/rules", key="admin").json["items"]
    assert [r["code"] for r in rules] == ["card_testing"], rules
