"""crossline.times: the one place a time is read or written as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crossline import times
from crossline.errors import ConfigError, InvalidEvent

PARIS = timezone(timedelta(hours=1))
MOMENT = datetime(2027, 3, 12, 10, 14, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-03-12T10:14:03Z", MOMENT),
        ("2027-03-12T11:14:03+01:00", MOMENT),
        (" 2027-03-12T10:14:03+00:00 ", MOMENT),
        ("2027-03-12T10:14:03.250Z", MOMENT.replace(microsecond=250_000)),
    ],
)
def test_parse_reads_an_instant_with_a_zone_as_utc(text: str, expected: datetime) -> None:
    parsed = times.parse(text, "eventTime")
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2027-03-12T10:14:03", "has no time zone"),
        ("12 March 2027", "is not an ISO 8601 time"),
        ("", "must be an ISO 8601 time"),
        (None, "must be an ISO 8601 time"),
        (1_700_000_000, "must be an ISO 8601 time"),
        ("9999-12-31T23:59:59-01:00", "is outside the range"),
    ],
)
def test_parse_refuses_what_is_not_an_instant_naming_the_field(value: object, problem: str) -> None:
    with pytest.raises(InvalidEvent, match=f"eventTime {problem}"):
        times.parse(value, "eventTime")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-03-12", datetime(2027, 3, 12, tzinfo=UTC)),
        ("2027-03-12T10:14:03", MOMENT),
        ("2027-03-12T11:14:03+01:00", MOMENT),
    ],
)
def test_parse_user_takes_a_missing_zone_as_utc(text: str, expected: datetime) -> None:
    assert times.parse_user(text, "--as-of") == expected


def test_parse_user_refuses_with_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="--as-of: 'last tuesday' is not an ISO 8601 time"):
        times.parse_user("last tuesday", "--as-of")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (MOMENT.astimezone(PARIS), MOMENT),
        (MOMENT.replace(tzinfo=None), MOMENT),
        ("2027-03-12T10:14:03", MOMENT),
        ("2027-03-12T10:14:03Z", MOMENT),
        ("not a time", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_coerce_is_lenient_with_api_records(value: object, expected: datetime | None) -> None:
    assert times.coerce(value) == expected


def test_text_forms() -> None:
    local = MOMENT.astimezone(PARIS)
    assert times.iso(local) == "2027-03-12T10:14:03Z"
    assert times.stamp(local) == "2027-03-12T10:14:03+00:00"
    assert times.stamp(MOMENT.replace(tzinfo=None)) == "2027-03-12T10:14:03+00:00"
    assert times.human(local) == "2027-03-12 10:14 UTC"
    assert times.iso(None) is None and times.stamp(None) is None
    # each text form reads back as the same instant
    for text in (times.iso(local), times.stamp(local)):
        assert times.parse(text, "t") == MOMENT


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (MOMENT, MOMENT.replace(microsecond=1)),
        (MOMENT.replace(microsecond=999_999), MOMENT + timedelta(seconds=1)),
        (datetime(999, 1, 1, tzinfo=UTC), MOMENT),
        (MOMENT.astimezone(PARIS), MOMENT + timedelta(microseconds=1)),
    ],
)
def test_fixed_text_sorts_as_time_does(earlier: datetime, later: datetime) -> None:
    assert times.fixed(earlier) < times.fixed(later)
    assert len(times.fixed(earlier)) == len(times.fixed(later)) == len("2027-03-12T10:14:03.000000Z")
    assert times.coerce(times.fixed(earlier)) == earlier
