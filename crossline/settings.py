"""Settings every ``crossline`` command shares, starting with which graph store to use.

Contract: ``store(explicit)`` returns a ``Setting`` (the value and where it came from) for
the graph store's URL. Every command that reads or writes the graph asks it, so one
default holds everywhere. Precedence, highest first:

1. the command line (``--store``);
2. the environment, ``CROSSLINE_STORE_URL``;
3. the nearest project config, searched from the working directory up to the file
   system's root: ``crossline.toml`` (``store = "..."``) or ``pyproject.toml``
   (``[tool.crossline] store = "..."``), the first folder that has either wins, and in one
   folder ``crossline.toml`` wins over ``pyproject.toml``;
4. the user config, ``$CROSSLINE_HOME/config.toml`` (``store = "..."``);
5. ``sqlite:///$CROSSLINE_HOME/graph.db``.

A value is a database URL (``sqlite:///path.db``, ``postgresql://user@host/db``) or a plain
path to a SQLite file. A relative SQLite path in a config file is relative to that file's
folder (so a project's ``crossline.toml`` works from any of its subfolders); on the
command line or in the environment, to the working directory. A config file that cannot
be read is a ``ConfigError`` naming it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossline import config
from crossline.errors import ConfigError

STORE_ENV = "CROSSLINE_STORE_URL"
PROJECT_FILES = ("crossline.toml", "pyproject.toml")


@dataclass(frozen=True)
class Setting:
    value: str
    origin: str  # "--store", "CROSSLINE_STORE_URL", a config file's path, or "default"


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read crossline's settings from {path}: {err}") from err
    if path.name == "pyproject.toml":
        section = data.get("tool", {}).get("crossline", {})
        return section if isinstance(section, dict) else {}
    return data


def _project_configs(start: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for folder in (start, *start.parents):
        for name in PROJECT_FILES:
            path = folder / name
            if path.is_file():
                found = _read(path)
                if found:
                    yield path, found
                    return


def sqlite_url(path: str | Path, base: Path) -> str:
    target = Path(path).expanduser()
    if not target.is_absolute():
        target = base / target
    return f"sqlite:///{target.resolve()}"


def normalise_store(value: str, base: Path) -> str:
    """A URL as SQLAlchemy takes it; a plain or relative SQLite path made absolute against ``base``."""
    text = value.strip()
    if not text:
        raise ConfigError("the graph store setting is empty")
    if "://" not in text:
        return sqlite_url(text, base)
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////"):
        return sqlite_url(text.removeprefix("sqlite:///"), base)
    return text


def store(explicit: str | None = None, *, cwd: Path | None = None) -> Setting:
    """The graph store's URL and where it came from (see the module docstring)."""
    here = (cwd or Path.cwd()).resolve()
    if explicit:
        return Setting(normalise_store(explicit, here), "--store")
    env = os.environ.get(STORE_ENV)
    if env:
        return Setting(normalise_store(env, here), STORE_ENV)
    for path, values in _project_configs(here):
        if "store" in values:
            return Setting(_from_file(values["store"], path), str(path))
    user = config.home() / "config.toml"
    if user.is_file():
        values = _read(user)
        if "store" in values:
            return Setting(_from_file(values["store"], user), str(user))
    return Setting(sqlite_url(config.home() / "graph.db", here), "default")


def _from_file(value: Any, path: Path) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{path}: 'store' must be a string (a database URL or a SQLite path), got {value!r}")
    return normalise_store(value, path.parent)
