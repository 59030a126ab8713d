"""crossline.redact: what it hides, what it keeps, and that it never raises.

Rule tables for the forms a secret takes, then Hypothesis properties (fixed seed,
bounded examples): a planted secret never survives, whatever surrounds it; redaction is
idempotent and never raises on any JSON-like input, however deep.
"""

from __future__ import annotations

import json
import logging
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossline.redact import (
    REDACTED,
    RedactingFilter,
    is_secret_name,
    redact,
    redact_event,
    redact_text,
    secret_keys,
    strip_userinfo,
)

SETTINGS = settings(derandomize=True, max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
SECRET = "Zq8-s3cr3t-VALUE-9x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://user:{SECRET}@github.com/acme/credit-ml.git", "https://***@github.com/acme/credit-ml.git"),
        (f"https://{SECRET}@github.com/acme/x", "https://***@github.com/acme/x"),
        (f"s3://AKIAIOSFODNN7EXAMPLE:{SECRET}@credit/train/", "s3://***@credit/train/"),
        (f"cannot connect to postgresql://scott:{SECRET}@db:5432/app", "cannot connect to postgresql://***@db:5432/app"),
        (f"host=db user=scott password={SECRET} dbname=app", "host=db user=scott password=*** dbname=app"),
        (f'{{"api_token": "{SECRET}", "eta": "0.2"}}', '{"api_token": "***", "eta": "0.2"}'),
        (f"job --db-password {SECRET} --epochs 3", "job --db-password *** --epochs 3"),
        (f"job --db-password={SECRET}", "job --db-password=***"),
        (f"https://b.s3.amazonaws.com/k?X-Amz-Signature={SECRET}&X-Amz-Date=1", "https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Date=1"),
        (f"https://api/x?access_token={SECRET}&page=2", "https://api/x?access_token=***&page=2"),
        (f"Authorization: Basic {SECRET}", "Authorization: ***"),
        (f"sent Bearer {SECRET}", "sent Bearer ***"),
        ("token ghp_" + "a" * 36 + " leaked", "token *** leaked"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected


@pytest.mark.parametrize(
    "text",
    [
        "s3://credit/train/2027-W10/", "git@github.com:acme/credit-ml.git", "2027-03-12T10:14:03+00:00",
        "max_tokens=300 tokenizer=bpe num_round=300", "https://github.com/acme/credit-ml/tree/a14f2b9",
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/credit-xgb/73", "risk-ops@company.com",
        "Basic authentication is off",
    ],
)
def test_what_is_not_a_secret_is_kept(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_token", True), ("db_password", True), ("dbPassword", True), ("--db-password", True),
        ("AWS_SECRET_ACCESS_KEY", True), ("githubToken", True), ("apikey", True), ("private_key", True),
        ("client_secret", True), ("Authorization", True), ("credentials", True),
        ("max_depth", False), ("eta", False), ("max_tokens", False), ("tokenizer", False), ("monkey", False),
        ("key", False), ("Key", False), ("author", False), ("model_signature", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_the_key_list_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not is_secret_name("ssn")
    monkeypatch.setenv("CROSSLINE_REDACT_KEYS", "ssn,-key")
    keys = secret_keys()
    assert is_secret_name("customer_ssn", keys) and not is_secret_name("sort_key", keys)
    assert is_secret_name("api_token", keys)  # the defaults stay
    assert is_secret_name("iban", secret_keys(extra=["iban"]))


def test_structures() -> None:
    event = {
        "run": {"facets": {"crossline_hyperparameters": {"hyperparameters": {"api_token": SECRET, "eta": "0.2"}}}},
        "args": ["--db-password", SECRET, "--epochs", "3"],
        "tags": [{"key": "vault_secret", "value": SECRET}, {"key": "team", "value": "risk"}],
        "env": [{"Name": "DB_PASSWORD", "Value": SECRET}],
        "connection": {"password": {"nested": SECRET}},
        "ok": [1, 2.5, None, True],
    }
    out = redact(event)
    assert SECRET not in json.dumps(out)
    assert out["run"]["facets"]["crossline_hyperparameters"]["hyperparameters"] == {"api_token": REDACTED, "eta": "0.2"}
    assert out["args"] == ["--db-password", REDACTED, "--epochs", "3"]
    assert out["tags"][1] == {"key": "team", "value": "risk"} and out["ok"] == [1, 2.5, None, True]
    assert event["args"][1] == SECRET  # the input is not changed


def test_attrs_events_are_copied_redacted_and_keep_their_type() -> None:
    from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run

    error = error_message_run.ErrorMessageRunFacet(
        message=f"OperationalError: postgresql://u:{SECRET}@db/app", programmingLanguage="python",
        stackTrace=f"Traceback ...\n  password={SECRET}\n")
    event = RunEvent(eventType=RunState.FAIL, eventTime="2027-03-12T10:14:03Z",
                     run=Run(runId="0190c2c0-0000-7000-8000-000000000001", facets={"errorMessage": error}),
                     job=Job(namespace="n", name="j"), producer="p",
                     inputs=[InputDataset(namespace=f"s3://AK:{SECRET}@bucket", name="k")])
    out = redact_event(event)
    assert type(out) is RunEvent and out is not event
    from openlineage.client.serde import Serde

    assert SECRET not in Serde.to_json(out)
    assert SECRET in Serde.to_json(event)


def test_the_log_filter_redacts_messages_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redact"):
        logger.info("posting to %s", f"http://ops:{SECRET}@marquez:5000")
    assert SECRET not in caplog.text and "http://***@marquez:5000" in caplog.text


def test_strip_userinfo() -> None:
    assert strip_userinfo(f"https://x:{SECRET}@github.com/a/b") == "https://github.com/a/b"
    assert strip_userinfo("git@github.com:a/b.git") == "git@github.com:a/b.git"


# -- properties ------------------------------------------------------------------------------
_word = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8).filter(lambda w: "key" != w)
_secret = st.text(alphabet=string.ascii_letters + string.digits + "_.~+/", min_size=12, max_size=40).map(
    lambda s: "S3" + s)
_secret_word = st.sampled_from(["password", "passwd", "secret", "token", "credential", "api_key", "private_key",
                                "pwd", "auth"])


@st.composite
def _secret_names(draw: st.DrawFn) -> str:
    words = draw(st.lists(_word, max_size=2)) + [draw(_secret_word)]
    sep = draw(st.sampled_from(["_", "-", ".", ""]))
    name = sep.join(words)
    style = draw(st.sampled_from(["lower", "upper", "flag"]))
    return name.upper() if style == "upper" else ("--" + name if style == "flag" else name)


@SETTINGS
@given(name=_secret_names(), secret=_secret, noise=st.text(max_size=30))
def test_a_secret_under_a_secret_name_never_survives(name: str, secret: str, noise: str) -> None:
    plain = name.lstrip("-")
    places = [
        {plain: secret, "note": noise},
        [f"--{plain}", secret, noise],
        [{"key": plain, "value": secret}],
        f"{noise} {plain}={secret} {noise}",
        f"{noise} --{plain} {secret}",
        f'{noise} "{plain}": "{secret}"',
    ]
    for place in places:
        assert secret not in json.dumps(redact(place)), place


# What RFC 3986 allows in userinfo unencoded (and percent-escapes).
_userinfo_secret = st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=%", min_size=12,
                           max_size=40).map(lambda s: "S3" + s)


@SETTINGS
@given(scheme=st.sampled_from(["https", "http", "s3", "s3a", "postgresql", "mysql+pymysql", "git+ssh"]),
       user=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12),
       secret=_userinfo_secret, host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,5})?", fullmatch=True),
       rest=st.from_regex(r"(/[A-Za-z0-9._-]{0,12}){0,3}", fullmatch=True), noise=st.text(max_size=30))
def test_credentials_in_any_uri_never_survive(scheme: str, user: str, secret: str, host: str, rest: str,
                                              noise: str) -> None:
    uri = f"{scheme}://{user}:{secret}@{host}{rest}"
    assert secret not in redact_text(f"{noise} {uri} {noise}")
    assert secret not in strip_userinfo(uri) and strip_userinfo(uri) == f"{scheme}://{host}{rest}"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=40,
)


@SETTINGS
@given(value=_json)
def test_redact_never_raises_and_is_idempotent(value: object) -> None:
    once = redact(value)
    assert json.dumps(redact(once), sort_keys=True) == json.dumps(once, sort_keys=True)


def test_no_depth_makes_it_raise() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(20_000):
        node["password"] = SECRET
        node["child"] = node = {}
    deep_list: list[object] = []
    cur = deep_list
    for _ in range(20_000):
        cur.append([])
        cur = cur[0]  # type: ignore[assignment]
    assert redact(deep_list) is not None
    out = redact(deep)
    for _ in range(100):
        assert out["password"] == REDACTED
        out = out["child"]


def test_the_log_filter_redacts_exception_text(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redact.exc")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.ERROR, logger="test.redact.exc"):
        try:
            raise ConnectionError(f"cannot reach postgresql://app:{SECRET}@db/app")
        except ConnectionError:
            logger.exception("collect failed")
    assert SECRET not in caplog.text and "postgresql://***@db/app" in caplog.text
