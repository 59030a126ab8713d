"""Helpers that build OpenLineage's *standard* facets the way crossline uses them.

Contract: where OpenLineage has a facet, crossline uses it rather than inventing one:
dataset content versions (``version``), code commits (``sourceCodeLocation``), owners
(``ownership``), descriptions (``documentation``) and Glue table <-> S3 aliases
(``symlinks``). Names inside facets come from the naming function. Malformed input is
an ``InvalidEvent``.
"""

from __future__ import annotations

import re

from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    documentation_job,
    ownership_job,
    source_code_location_job,
    symlinks_dataset,
)

from crossline.emitters.naming import dataset_name
from crossline.errors import InvalidEvent
from crossline.redact import strip_userinfo

_COMMIT = re.compile(r"[0-9a-f]{7,64}")


def content_version(
    version_id: str | None, etag: str | None
) -> dataset_version_dataset.DatasetVersionDatasetFacet:
    """The ``version`` facet of an S3 object: its VersionId if the bucket versions, else its ETag.

    S3 reports ``"null"`` as the VersionId of objects written while versioning was off;
    that names no version, so the ETag is used. ETags come quoted from S3 (``"9b2c…"``);
    the quotes are dropped so HeadObject and ListObjects spell one version alike.
    """
    if version_id is not None and not isinstance(version_id, str):
        raise InvalidEvent(f"content_version: version_id must be a string, got {version_id!r}")
    if etag is not None and not isinstance(etag, str):
        raise InvalidEvent(f"content_version: etag must be a string, got {etag!r}")
    if version_id and version_id.strip() and version_id != "null":
        return dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version_id.strip())
    tag = (etag or "").strip().strip('"')
    if not tag:
        raise InvalidEvent(
            f"content_version: neither an S3 VersionId nor an ETag (got {version_id!r}, {etag!r})"
        )
    return dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=tag)


def code_location(
    repo_url: str, commit: str, path: str | None = None
) -> source_code_location_job.SourceCodeLocationJobFacet:
    """``sourceCodeLocation`` for a git commit, e.g. ``github.com/acme/credit-ml`` @ ``a14f2b9``.

    ``url`` points at the tree of that commit (GitHub/GitLab ``/tree/{commit}/{path}``);
    ``version`` holds the commit itself. Credentials in the repository URL (a remote
    cloned with ``https://user:token@...``) are dropped.
    """
    if not isinstance(repo_url, str) or not repo_url.strip():
        raise InvalidEvent(f"code_location: repo_url must be a non-empty string, got {repo_url!r}")
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise InvalidEvent(
            f"code_location: commit must be a hex git sha (7+ chars), got {commit!r}"
        )
    repo = strip_userinfo(repo_url.strip()).rstrip("/").removesuffix(".git")
    if "://" not in repo and not repo.startswith("git@"):
        repo = f"https://{repo}"
    browse = repo
    if repo.startswith("git@"):  # git@github.com:acme/x -> https://github.com/acme/x
        browse = "https://" + repo.removeprefix("git@").replace(":", "/", 1)
    clean_path = path.strip("/") if path else None
    url = f"{browse}/tree/{commit}" + (f"/{clean_path}" if clean_path else "")
    return source_code_location_job.SourceCodeLocationJobFacet(
        type="git", url=url, repoUrl=repo, path=clean_path, version=commit
    )


def symlinks_to(
    *locations: str, type: str = "TABLE"  # noqa: A002
) -> symlinks_dataset.SymlinksDatasetFacet:
    """``symlinks`` naming other identities of the same data, e.g. the Glue table over an S3 prefix.

    Marquez keeps the dataset's own identity primary and treats these as aliases.
    """
    if not locations:
        raise InvalidEvent("symlinks_to: at least one location is required")
    identifiers = []
    for location in locations:
        named = dataset_name(location)
        identifiers.append(
            symlinks_dataset.Identifier(namespace=named.namespace, name=named.name, type=type)
        )
    return symlinks_dataset.SymlinksDatasetFacet(identifiers=identifiers)


def ownership(
    *owners: str, type: str | None = None  # noqa: A002
) -> ownership_job.OwnershipJobFacet:
    """``ownership`` of a job; owners as URNs, e.g. ``team:risk-ops``, ``user:jdoe``."""
    if not owners or not all(isinstance(o, str) and o.strip() for o in owners):
        raise InvalidEvent(f"ownership: owners must be non-empty strings, got {owners!r}")
    return ownership_job.OwnershipJobFacet(
        owners=[ownership_job.Owner(name=o, type=type) for o in owners]
    )


def documentation(
    description: str, content_type: str | None = None
) -> documentation_job.DocumentationJobFacet:
    """``documentation`` of a job (``content_type`` e.g. ``text/markdown``)."""
    if not isinstance(description, str) or not description.strip():
        raise InvalidEvent(
            f"documentation: description must be a non-empty string, got {description!r}"
        )
    return documentation_job.DocumentationJobFacet(
        description=description, contentType=content_type
    )
