"""ManualSource: a team's hand-kept audit table (CSV or DynamoDB JSON export) as evidence facts."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossline.collectors.model import EdgeKind, NodeKind
from crossline.collectors.sources import source_from_config
from crossline.collectors.sources.manual import FIELDS, ManualSource
from crossline.errors import ConfigError, SourceError, SourceInputInvalid

PACKAGE = "arn:aws:sagemaker:eu-west-1:210987654321:model-package/fraud-scorer/12"
ROWS = [
    {"record_id": "AUD-1", "recorded_at": "2027-04-09T16:20:00Z", "recorded_by": "a@x", "subject": PACKAGE,
     "fact": "model_approval", "value": "Approved", "decided_by": "j@x", "decided_at": "2027-04-09T13:30:00Z",
     "ticket": "CAB-1", "note": ""},
    {"record_id": "AUD-2", "recorded_at": "2027-04-02T11:00:00Z", "recorded_by": "c@x",
     "subject": "s3://fraud-ml-eu/policy/blocked.csv", "fact": "exclusion_list_approval", "value": "Approved",
     "decided_by": "l@x", "decided_at": "2027-04-02T10:45:00Z", "ticket": "COMP-1", "note": "signed off; password=hunter2"},
]


def write_csv(path: Path, rows: list[dict], fields: tuple[str, ...] = FIELDS) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read(path: Path, since: str | None = None, **extra):  # type: ignore[no-untyped-def]
    source = source_from_config({"type": "manual", "paths": [str(path)], **extra})
    batches = list(source.read(since))
    return source, batches, [n for b in batches for n in b.nodes], [e for b in batches for e in b.edges], \
        [w for b in batches for w in b.warnings]


def test_each_row_is_a_fact_that_records_its_subject_with_who_and_when(tmp_path: Path) -> None:
    _, batches, nodes, edges, warnings = read(write_csv(tmp_path / "audit-log.csv", ROWS))
    assert warnings == []
    assert [n.id for n in nodes] == ["manual:audit-log/AUD-1", "manual:audit-log/AUD-2"]
    fact = nodes[0]
    assert fact.kind is NodeKind.MANUAL_FACT
    assert fact.props["recordedBy"] == "a@x" and fact.props["recordedAt"] == "2027-04-09T16:20:00+00:00"
    assert fact.props["readFrom"] == f"{tmp_path / 'audit-log.csv'}:2"
    assert fact.valid_from.isoformat() == "2027-04-09T13:30:00+00:00"  # when it became true: the decision
    assert [(e.src, e.dst, e.kind) for e in edges] == [
        ("manual:audit-log/AUD-1", PACKAGE, EdgeKind.RECORDS),
        ("manual:audit-log/AUD-2", "dataset:s3://fraud-ml-eu:policy/blocked.csv", EdgeKind.RECORDS),
    ]
    assert nodes[1].props["note"] == "signed off; password=***" and "note" not in nodes[0].props  # redacted at the door


def test_a_malformed_row_is_warned_with_where_and_why_and_the_rest_is_read(tmp_path: Path) -> None:
    bad = [
        {**ROWS[0], "record_id": ""},
        {**ROWS[0], "record_id": "AUD-3", "recorded_at": "yesterday"},
        {**ROWS[0], "record_id": "AUD-4", "subject": "ticket FRAUD-1"},
        {**ROWS[0], "record_id": "AUD-5", "decided_at": "2027-13-45"},
        ROWS[1],
        {**ROWS[1], "note": "again"},
    ]
    path = write_csv(tmp_path / "log.csv", bad)
    source, _, nodes, _, warnings = read(path)
    assert [n.id for n in nodes] == ["manual:log/AUD-2"]
    assert nodes[0].props["note"] == "again"  # the later row of a repeated record is kept
    assert [(w.source, w.where) for w in warnings] == [("manual", f"{path}:{n}") for n in (2, 3, 4, 5, 7)]
    assert "no record_id" in warnings[0].why and "not a time" in warnings[1].why and "crossline can name" in warnings[2].why
    assert "record AUD-2 again" in warnings[4].why and "later row is kept" in warnings[4].why
    assert source.report.scanned["skipped"] == 4


def test_columns_can_be_renamed_and_extra_columns_are_kept(tmp_path: Path) -> None:
    renamed = [{("who" if k == "recorded_by" else k): v for k, v in ROWS[0].items()} | {"approver_team": "risk"}]
    fields = tuple("who" if f == "recorded_by" else f for f in FIELDS) + ("approver_team",)
    _, _, nodes, _, warnings = read(write_csv(tmp_path / "t.csv", renamed, fields), columns={"recorded_by": "who"},
                                    table="fraud-audit-log")
    assert warnings == []
    (fact,) = nodes
    assert fact.id == "manual:fraud-audit-log/AUD-1" and fact.props["recordedBy"] == "a@x"
    assert fact.props["extra"] == {"approver_team": "risk"}


def test_the_watermark_skips_an_unchanged_file_and_rereads_a_changed_one(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "log.csv", ROWS[:1])
    _, batches, nodes, _, _ = read(path)
    mark = batches[-1].watermark
    assert len(nodes) == 1 and json.loads(mark)[str(path)].startswith("sha256:")
    _, again, nodes, _, _ = read(path, mark)
    assert nodes == [] and again[-1].watermark == mark
    write_csv(path, ROWS)
    _, changed, nodes, _, _ = read(path, mark)
    assert len(nodes) == 2 and changed[-1].watermark != mark


def _export(root: Path, rows: list[dict], export_id: str = "01807596000000-abcdef01") -> Path:
    folder = root / "exports" / "AWSDynamoDB" / export_id
    (folder / "data").mkdir(parents=True)
    lines = [json.dumps({"Item": {k: {"S": v} for k, v in r.items() if v}}) for r in rows]
    lines.append("{not json")
    data = f"exports/AWSDynamoDB/{export_id}/data/part.json.gz"
    (root / data).write_bytes(gzip.compress("\n".join(lines).encode()))
    (folder / "manifest-files.json").write_text(json.dumps({"itemCount": len(rows), "dataFileS3Key": data}) + "\n")
    (folder / "manifest-summary.json").write_text(json.dumps({
        "exportArn": f"arn:aws:dynamodb:eu-west-1:210987654321:table/audit-log/export/{export_id}",
        "tableArn": "arn:aws:dynamodb:eu-west-1:210987654321:table/audit-log", "exportTime": "2027-04-13T06:00:00.000Z",
        "manifestFilesS3Key": f"exports/AWSDynamoDB/{export_id}/manifest-files.json", "outputFormat": "DYNAMODB_JSON"}))
    return folder


def test_a_dynamodb_export_gives_the_same_facts_as_the_csv(tmp_path: Path) -> None:
    _export(tmp_path, ROWS)
    _, batches, nodes, edges, warnings = read(tmp_path / "exports")
    _, _, csv_nodes, csv_edges, _ = read(write_csv(tmp_path / "audit-log.csv", ROWS))
    assert [n.id for n in nodes] == [n.id for n in csv_nodes]  # the table's name, from its ARN
    strip = lambda n: {k: v for k, v in n.props.items() if k != "readFrom"}  # noqa: E731
    assert [strip(n) for n in nodes] == [strip(n) for n in csv_nodes]
    assert [(e.src, e.dst) for e in edges] == [(e.src, e.dst) for e in csv_edges]
    (warning,) = warnings
    assert warning.where.endswith("part.json.gz:3") and "not a DynamoDB JSON item" in warning.why
    assert list(json.loads(batches[-1].watermark)) == ["arn:aws:dynamodb:eu-west-1:210987654321:table/audit-log/export/01807596000000-abcdef01"]


def test_bad_configs_and_missing_inputs_are_refused(tmp_path: Path) -> None:
    for config, text in (({}, "paths"), ({"paths": []}, "paths"), ({"paths": ["x"], "colour": 1}, "unknown"),
                         ({"paths": ["x"], "columns": {"nope": "x"}}, "columns")):
        with pytest.raises(ConfigError, match=text):
            ManualSource.from_config(config)
    with pytest.raises(ConfigError, match="does not exist") as missing:  # a path naming nothing: usage, exit 2
        list(ManualSource.from_config({"paths": [str(tmp_path / "missing.csv")]}).read(None))
    assert missing.value.exit_code == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceInputInvalid, match="manifest-summary") as empty:  # there, but not an export: exit 3
        list(ManualSource.from_config({"paths": [str(tmp_path / "empty")]}).read(None))
    (tmp_path / "latin1.csv").write_bytes("subject,décidé\n".encode("latin-1"))
    with pytest.raises(SourceInputInvalid, match="not UTF-8") as latin:
        list(ManualSource.from_config({"paths": [str(tmp_path / "latin1.csv")]}).read(None))
    assert empty.value.exit_code == latin.value.exit_code == 3
    with pytest.raises(SourceError, match="watermark"):
        list(ManualSource.from_config({"paths": [str(tmp_path)]}).read("not json"))


_ROW = st.fixed_dictionaries({
    "record_id": st.from_regex(r"AUD-[0-9]{1,4}", fullmatch=True),
    "recorded_at": st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(lambda d: d.isoformat()),
    "recorded_by": st.emails(),
    "subject": st.sampled_from([PACKAGE, "s3://b/k.csv", "arn:aws:s3:::b/other.csv"]),
    "fact": st.sampled_from(["model_approval", "exclusion_list_approval", "ticket"]),
    "value": st.sampled_from(["Approved", "Rejected", ""]),
    "decided_by": st.emails() | st.just(""),
    "decided_at": st.just(""),
    "ticket": st.text(alphabet="ABC-0123456789", max_size=8),
    "note": st.text(max_size=20).filter(lambda t: "\x00" not in t),
})


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(_ROW, max_size=12, unique_by=lambda r: r["record_id"]), order=st.randoms(use_true_random=False))
def test_any_order_of_the_same_rows_gives_the_same_facts(tmp_path_factory: pytest.TempPathFactory, rows: list[dict], order) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("rows")
    shuffled = list(rows)
    order.shuffle(shuffled)
    facts = []
    for name, version in (("a", rows), ("b", shuffled)):
        path = write_csv(folder / name / "log.csv", version) if (folder / name).mkdir() is None else None
        _, _, nodes, edges, warnings = read(path)
        assert warnings == []
        facts.append(({n.id: {k: v for k, v in n.props.items() if k != "readFrom"} for n in nodes},
                      {(e.src, e.dst, e.kind) for e in edges}))
    assert facts[0] == facts[1]
    assert len(facts[0][0]) == len(rows)
