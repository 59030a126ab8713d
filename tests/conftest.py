"""Fixtures of the local bed, shared by every test.

Services start once per session and fail loudly if they cannot: a test that needs the
bed never skips.

Each session is the bed's only user of what it starts: ``pytest_configure`` gives it a
state folder of its own (``CROSSLINE_HOME``) and free loopback ports for PostgreSQL and
Marquez, unless the caller set them, so two test sessions on one machine (two
developers, two helpers, CI beside a developer) never stop or reset each other's
servers. Downloads worth keeping (Marquez's jars) stay in the shared cache
(``CROSSLINE_CACHE``, by default the usual ``~/.cache/crossline``). At the end the
session stops and deletes the PostgreSQL cluster it made.

Property tests (Hypothesis) run under the profile ``ci``, registered here: derandomized
(a fixed seed, so CI sees the same examples every run), no example database, no deadline,
bounded examples. ``HYPOTHESIS_PROFILE=deep`` runs ten times as many, for a search on
purpose rather than a check.

Marquez: ``CROSSLINE_MARQUEZ_URL`` points the tests at a Marquez you run yourself (e.g.
``docker compose up``). Otherwise the session starts one with ``crossline-bed marquez up``
(``CROSSLINE_MARQUEZ_IMPL``: auto, real or standin). Which one served the tests is
printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from crossline_bed.airflow import AirflowBed, DagRunResult
from crossline_bed.aws import TEST_ENV, MotoServer
from crossline_bed.marquez import MarquezBed, MarquezState
from crossline_bed.mlflow import MlflowServer
from crossline_bed.postgres import Postgres
from crossline_bed.process import free_port
from crossline_bed.scenario import CreditBed, PlayedStory, play_story
from crossline_bed.scenario_fraud import PlayedFraudStory, play_fraud_story

REPO = Path(__file__).resolve().parents[1]

_PROPERTY = {"derandomize": True, "database": None, "deadline": None, "print_blob": True,
             "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("ci", max_examples=25, **_PROPERTY)
settings.register_profile("deep", max_examples=250, **_PROPERTY)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
_MARQUEZ_KEY = pytest.StashKey[MarquezState]()
_SESSION_PORTS = ("CROSSLINE_PG_PORT", "CROSSLINE_MARQUEZ_PORT", "CROSSLINE_MARQUEZ_ADMIN_PORT")
_OWN_HOME = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """This session's own state folder and ports (see the module docstring)."""
    if not os.environ.get("CROSSLINE_CACHE"):
        default = os.environ.get("CROSSLINE_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "crossline")
        os.environ["CROSSLINE_CACHE"] = default
    if not os.environ.get("CROSSLINE_TEST_HOME_KEEP"):
        home = tempfile.mkdtemp(prefix="crossline-test-home-")
        os.environ["CROSSLINE_HOME"] = home
        config.stash[_OWN_HOME] = home
    for name in _SESSION_PORTS:
        if not os.environ.get(name):
            os.environ[name] = str(free_port())


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_OWN_HOME, None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def bed_postgres() -> Iterator[Postgres]:
    """The session's PostgreSQL cluster: made on this session's port, destroyed at its end."""
    pg = Postgres.default()
    existed = pg.status()
    pg.up()
    try:
        yield pg
    finally:
        if not existed:
            pg.destroy()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto server: every backend reset; returns its endpoint URL.

    Also points boto3 in this process at it through AWS_ENDPOINT_URL.
    """
    moto_server.reset()
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint_url)
    yield moto_server.endpoint_url


@pytest.fixture(scope="session")
def marquez(request: pytest.FixtureRequest) -> Iterator[MarquezState]:
    # bed_postgres is asked for only when a Marquez is started here (an external one
    # needs no cluster); MarquezBed.up() uses the same cluster and its destroy comes last.
    """A running Marquez backend; its ``url`` takes OpenLineage events."""
    external = os.environ.get("CROSSLINE_MARQUEZ_URL")
    if external:
        state = MarquezState(impl="external", pid=0, url=external.rstrip("/"), admin_url="", log="")
        request.config.stash[_MARQUEZ_KEY] = state
        yield state
        return
    request.getfixturevalue("bed_postgres")
    bed = MarquezBed(os.environ.get("CROSSLINE_MARQUEZ_IMPL", "auto"))
    was_running = bed.running() is not None
    state = bed.up()
    request.config.stash[_MARQUEZ_KEY] = state
    try:
        yield state
    finally:
        if not was_running:
            bed.down()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real MLflow tracking server (``mlflow server``, SQLite backend) for the session."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def namespace() -> str:
    """A namespace of this test's own: Marquez keeps everything, so tests never share names."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("airflow")


@pytest.fixture
def airflow_bed(airflow_home: Path, aws: str, marquez: MarquezState, namespace: str) -> AirflowBed:
    """Airflow with the bed's test DAGs, AWS on moto, events to a file and to Marquez."""
    return AirflowBed(
        airflow_home,
        REPO / "tests" / "bed" / "dags",
        marquez_url=marquez.url,
        aws_endpoint_url=aws,
        namespace=namespace,
    )


@dataclass
class Story:
    """The scenario's two weeks, played once per session on an AWS bed of their own."""

    aws: MotoServer
    airflow: AirflowBed
    played: PlayedStory

    @property
    def bed(self) -> CreditBed:
        return self.played.bed

    @property
    def namespace(self) -> str:
        return self.played.namespace

    @property
    def runs(self) -> dict[str, DagRunResult]:
        return self.played.runs

    @property
    def captures(self) -> dict[str, str]:
        return self.played.captures


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory, marquez: MarquezState) -> Iterator[Story]:
    """W10, loan-8231 on 12 March, W11 with the 15 March swap, loan-9120 on 16 March.

    Its moto server is its own, so the other tests' resets never touch it.
    """
    namespace = f"credit-{uuid.uuid4().hex[:8]}"
    aws = MotoServer().start()
    try:
        airflow = AirflowBed(
            tmp_path_factory.mktemp("airflow-story"), REPO / "dags",
            marquez_url=marquez.url, aws_endpoint_url=aws.endpoint_url, namespace=namespace,
        )
        yield Story(aws, airflow, play_story(aws, airflow, namespace))
    finally:
        aws.stop()


@pytest.fixture(scope="session")
def story2(
    tmp_path_factory: pytest.TempPathFactory, marquez: MarquezState, mlflow_server: MlflowServer
) -> Iterator[PlayedFraudStory]:
    """The second story (tests/STORY2.md): the fraud team's week 2027-W14, on an AWS bed of its own.

    Its moto server is its own; MLflow is the session's server; Airflow's events go to a
    file and to the session's Marquez under a namespace of the story's own.
    """
    import time

    namespace = f"fraud-{uuid.uuid4().hex[:8]}"
    aws = MotoServer().start()
    started = time.monotonic()
    try:
        played = play_fraud_story(
            aws, tmp_path_factory.mktemp("airflow-story2"), marquez.url, mlflow_server.url,
            tmp_path_factory.mktemp("story2"), namespace,
        )
        played.wall_seconds = time.monotonic() - started
        yield played
    finally:
        aws.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(_MARQUEZ_KEY, None)
    if state is None:
        return
    line = f"Marquez used by these tests: {state.impl} at {state.url}"
    if state.impl == "standin":
        line += f" -- the crossline stand-in, not real Marquez ({state.reason})"
    terminalreporter.write_sep("-", line)
