"""The naming function is the join key: every spelling of a location names one dataset."""

import pytest

from crossline.emitters.naming import DatasetName, dataset_name
from crossline.errors import InvalidEvent


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://credit/train/2027-W10/", DatasetName("s3://credit", "train/2027-W10")),
        ("s3://credit/train/2027-W10", DatasetName("s3://credit", "train/2027-W10")),
        ("s3a://credit/train/2027-W10/", DatasetName("s3://credit", "train/2027-W10")),
        ("s3n://credit/train/2027-W10", DatasetName("s3://credit", "train/2027-W10")),
        ("S3://policy/excl-v14.csv", DatasetName("s3://policy", "excl-v14.csv")),
        (
            "s3://credit/models/credit-xgb-2027W10-a3c7/output/model.tar.gz",
            DatasetName("s3://credit", "models/credit-xgb-2027W10-a3c7/output/model.tar.gz"),
        ),
    ],
)
def test_s3_uris(uri: str, expected: DatasetName) -> None:
    assert dataset_name(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3:///key", "without a bucket"),
        ("s3://bucket/", "no key or prefix"),
        ("ftp://host/file", "no OpenLineage naming rule"),
        ("train/2027-W10", "no OpenLineage naming rule"),
    ],
)
def test_unnameable_uris_are_refused(uri: str, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        dataset_name(uri)
