"""Two test sessions on one machine do not share a port, a cluster or a state folder.

Each session's ``pytest_configure`` (``tests/conftest.py``) takes free ports and a state
folder of its own; this runs two real sessions at once, each starting PostgreSQL and
Marquez and writing through them, and both must pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_OURS = ("CROSSLINE_HOME", "CROSSLINE_PG_PORT", "CROSSLINE_MARQUEZ_PORT", "CROSSLINE_MARQUEZ_ADMIN_PORT",
         "CROSSLINE_MARQUEZ_URL")


def test_two_sessions_at_once_both_pass(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _OURS and not k.startswith("PYTEST_")}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/bed/test_marquez.py"]
    runs = [
        subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-3000:]
    # Each served its tests from a Marquez on a port of its own.
    urls = [line.split(" at ", 1)[1].split(" ", 1)[0] for out in outputs for line in out.splitlines()
            if "Marquez used by these tests" in line]
    assert len(urls) == 2 and urls[0] != urls[1], urls
