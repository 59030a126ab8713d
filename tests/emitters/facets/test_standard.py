"""Helpers for OpenLineage's standard facets: content versions, code, symlinks, owners, docs."""

from __future__ import annotations

import re

import pytest
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    source_code_location_job,
    symlinks_dataset,
)
from openlineage.client.serde import Serde

from crossline.emitters.facets import (
    code_location,
    content_version,
    documentation,
    ownership,
    symlinks_to,
)
from crossline.errors import InvalidEvent


@pytest.mark.parametrize(
    ("version_id", "etag", "expected"),
    [
        ("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", '"9b2cf535f27731c974343645a3985328"', "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"),
        (None, '"9b2cf535f27731c974343645a3985328"', "9b2cf535f27731c974343645a3985328"),
        ("null", '"9b2cf535f27731c974343645a3985328"', "9b2cf535f27731c974343645a3985328"),
        ("", "9b2cf535f27731c974343645a3985328-3", "9b2cf535f27731c974343645a3985328-3"),
        ("v1", None, "v1"),
    ],
)
def test_content_version_prefers_the_version_id(
    version_id: str | None, etag: str | None, expected: str
) -> None:
    facet = content_version(version_id, etag)
    assert isinstance(facet, dataset_version_dataset.DatasetVersionDatasetFacet)
    assert facet.datasetVersion == expected


@pytest.mark.parametrize(
    ("version_id", "etag", "message"),
    [
        (None, None, "neither an S3 VersionId nor an ETag"),
        ("null", '""', "neither an S3 VersionId nor an ETag"),
        (7, None, "version_id must be a string"),
        (None, b"abc", "etag must be a string"),
    ],
)
def test_content_version_without_a_version_is_refused(
    version_id: object, etag: object, message: str
) -> None:
    with pytest.raises(InvalidEvent, match=message):
        content_version(version_id, etag)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("repo", "path", "url", "repo_url"),
    [
        (
            "github.com/acme/credit-ml",
            None,
            "https://github.com/acme/credit-ml/tree/a14f2b9",
            "https://github.com/acme/credit-ml",
        ),
        (
            "https://github.com/acme/credit-ml.git",
            "/training/train.py",
            "https://github.com/acme/credit-ml/tree/a14f2b9/training/train.py",
            "https://github.com/acme/credit-ml",
        ),
        (
            "git@github.com:acme/credit-ml.git",
            "dags",
            "https://github.com/acme/credit-ml/tree/a14f2b9/dags",
            "git@github.com:acme/credit-ml",
        ),
    ],
)
def test_code_location(repo: str, path: str | None, url: str, repo_url: str) -> None:
    facet = code_location(repo, "a14f2b9", path)
    assert isinstance(facet, source_code_location_job.SourceCodeLocationJobFacet)
    body = Serde.to_dict(facet)
    body.pop("_producer")
    assert body == {
        "_schemaURL": facet._get_schema(),
        "type": "git",
        "url": url,
        "repoUrl": repo_url,
        "version": "a14f2b9",
        **({"path": path.strip("/")} if path else {}),
    }


@pytest.mark.parametrize(
    ("repo", "commit", "message"),
    [
        ("", "a14f2b9", "repo_url must be a non-empty string"),
        ("github.com/acme/credit-ml", "main", "commit must be a hex git sha"),
        ("github.com/acme/credit-ml", "a14f", "commit must be a hex git sha"),
        ("github.com/acme/credit-ml", None, "commit must be a hex git sha"),
    ],
)
def test_code_location_refuses_what_is_not_a_commit(repo: str, commit: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        code_location(repo, commit)  # type: ignore[arg-type]


def test_symlinks_name_the_glue_table_over_an_s3_prefix() -> None:
    facet = symlinks_to("arn:aws:glue:eu-west-1:123456789012:table/credit/train")
    assert isinstance(facet, symlinks_dataset.SymlinksDatasetFacet)
    assert facet.identifiers == [
        symlinks_dataset.Identifier(
            namespace="arn:aws:glue:eu-west-1:123456789012", name="table/credit/train", type="TABLE"
        )
    ]


@pytest.mark.parametrize(
    ("locations", "message"),
    [
        ((), "at least one location"),
        (("credit.train",), re.escape("no OpenLineage naming rule for 'credit.train'")),
    ],
)
def test_symlinks_refuse_what_cannot_be_named(locations: tuple[str, ...], message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        symlinks_to(*locations)


def test_ownership_and_documentation() -> None:
    owners = Serde.to_dict(ownership("team:risk-ops", "user:jdoe", type="MAINTAINER"))
    assert owners["owners"] == [
        {"name": "team:risk-ops", "type": "MAINTAINER"},
        {"name": "user:jdoe", "type": "MAINTAINER"},
    ]
    doc = Serde.to_dict(documentation("Weekly credit-model retraining.", "text/markdown"))
    assert (doc["description"], doc["contentType"]) == ("Weekly credit-model retraining.", "text/markdown")
    with pytest.raises(InvalidEvent, match="owners must be non-empty strings"):
        ownership()
    with pytest.raises(InvalidEvent, match="owners must be non-empty strings"):
        ownership("team:risk-ops", "")
    with pytest.raises(InvalidEvent, match="description must be a non-empty string"):
        documentation("  ")
