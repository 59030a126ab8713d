"""Which code a job ran: the git repository and commit attached to every job.

Contract: ``resolve(tags, dag_file)`` returns a ``CodeLocation`` or ``None``. The first
source that names both a repository and a commit wins:

1. The AWS resource's own tags: ``crossline:code-repo`` and ``crossline:code-commit``
   (SageMaker job Tags; for Glue, the run arguments ``--crossline-code-repo`` and
   ``--crossline-code-commit``). These travel with the job, so SageMaker's side of the
   graph carries them too, and they name the code the job itself ran (a training
   script), which need not be the DAG's repository.
2. The environment of the worker: ``CROSSLINE_CODE_REPO`` and ``CROSSLINE_CODE_COMMIT``,
   as a deployment pipeline sets them.
3. The git checkout that holds the DAG file: its ``origin`` remote and ``HEAD``, when
   that remote is one others can open (not a path on this machine).

It never raises: a job without a known commit simply has no code location. A repository
URL never carries credentials out: ``https://user:token@host/...`` (a git remote set up
with a token) is returned as ``https://host/...``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from crossline.redact import strip_userinfo

REPO_TAG = "crossline:code-repo"
COMMIT_TAG = "crossline:code-commit"
GLUE_REPO_ARG = "--crossline-code-repo"
GLUE_COMMIT_ARG = "--crossline-code-commit"


@dataclass(frozen=True)
class CodeLocation:
    repo_url: str
    commit: str
    path: str | None = None
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "repo_url", strip_userinfo(self.repo_url))


def from_tags(tags: Mapping[str, str] | list[dict[str, str]] | None) -> CodeLocation | None:
    if not tags:
        return None
    if isinstance(tags, list):
        tags = {t.get("Key", ""): t.get("Value", "") for t in tags}
    repo = tags.get(REPO_TAG) or tags.get(GLUE_REPO_ARG)
    commit = tags.get(COMMIT_TAG) or tags.get(GLUE_COMMIT_ARG)
    return CodeLocation(repo, commit, source="resource tags") if repo and commit else None


def from_env() -> CodeLocation | None:
    repo, commit = os.environ.get("CROSSLINE_CODE_REPO"), os.environ.get("CROSSLINE_CODE_COMMIT")
    return CodeLocation(repo, commit, source="environment") if repo and commit else None


def from_git(path: str | Path | None) -> CodeLocation | None:
    if not path:
        return None
    folder = Path(path)
    folder = folder if folder.is_dir() else folder.parent

    def git(*argv: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(folder), *argv], capture_output=True, text=True, timeout=5,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None

    commit = git("rev-parse", "HEAD")
    repo = git("config", "--get", "remote.origin.url")
    if not (commit and repo) or not _shareable(repo):
        return None
    top = git("rev-parse", "--show-toplevel")
    rel = str(Path(path).resolve().relative_to(top)) if top and Path(path).is_file() else None
    return CodeLocation(repo, commit, path=rel, source="git checkout of the DAG")


def _shareable(remote: str) -> bool:
    """A remote others can open (https, ssh, git@host:...), not a path on this machine."""
    if remote.startswith("git@"):
        return True
    scheme, _, rest = remote.partition("://")
    return bool(rest) and scheme not in ("file", "")


def resolve(
    tags: Mapping[str, str] | list[dict[str, str]] | None = None, dag_file: str | Path | None = None
) -> CodeLocation | None:
    return from_tags(tags) or from_env() or from_git(dag_file)
