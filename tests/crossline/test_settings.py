"""One store default everywhere: flag, environment, project config, user config, default."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossline import settings
from crossline.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CROSSLINE_STORE_URL", raising=False)
    monkeypatch.setenv("CROSSLINE_HOME", str(tmp_path / "home"))


def test_the_default_is_a_sqlite_file_in_crosslines_home(tmp_path: Path) -> None:
    found = settings.store(cwd=tmp_path)
    assert found == settings.Setting(f"sqlite:///{tmp_path / 'home' / 'graph.db'}", "default")


def test_precedence_flag_env_project_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "sub" / "deeper").mkdir(parents=True)
    (project / "crossline.toml").write_text('store = "state/graph.db"\n')
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "config.toml").write_text('store = "postgresql://u@db/graph"\n')
    here = project / "sub" / "deeper"
    # a project config, found from a subfolder; its relative path is relative to the file
    assert settings.store(cwd=here) == settings.Setting(f"sqlite:///{project / 'state' / 'graph.db'}",
                                                        str(project / "crossline.toml"))
    # the environment beats it
    monkeypatch.setenv("CROSSLINE_STORE_URL", "sqlite:///rel.db")
    assert settings.store(cwd=here) == settings.Setting(f"sqlite:///{here / 'rel.db'}", "CROSSLINE_STORE_URL")
    # the flag beats both, and a plain path is a SQLite file
    assert settings.store("x.db", cwd=here) == settings.Setting(f"sqlite:///{here / 'x.db'}", "--store")
    # outside the project: the user config
    monkeypatch.delenv("CROSSLINE_STORE_URL")
    assert settings.store(cwd=tmp_path).value == "postgresql://u@db/graph"


def test_pyproject_tool_section_and_crossline_toml_wins_in_one_folder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.crossline]\nstore = "a.db"\n')
    assert settings.store(cwd=tmp_path).value == f"sqlite:///{tmp_path / 'a.db'}"
    (tmp_path / "crossline.toml").write_text('store = "b.db"\n')
    assert settings.store(cwd=tmp_path).value == f"sqlite:///{tmp_path / 'b.db'}"


def test_a_pyproject_without_our_section_does_not_stop_the_search(tmp_path: Path) -> None:
    (tmp_path / "crossline.toml").write_text('store = "up.db"\n')
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert settings.store(cwd=tmp_path / "pkg").value == f"sqlite:///{tmp_path / 'up.db'}"


def test_this_checkouts_store_is_where_the_demo_writes() -> None:
    """After `make demo`, commands run from the checkout find the demo's store with no flags."""
    found = settings.store(cwd=REPO / "collectors")
    assert found == settings.Setting(f"sqlite:///{REPO / 'out' / 'graph.db'}", str(REPO / "pyproject.toml"))


@pytest.mark.parametrize("content", ["store = 3\n", "store = [\n"])
def test_a_bad_config_file_is_a_config_error_naming_it(tmp_path: Path, content: str) -> None:
    (tmp_path / "crossline.toml").write_text(content)
    with pytest.raises(ConfigError, match="crossline.toml"):
        settings.store(cwd=tmp_path)
