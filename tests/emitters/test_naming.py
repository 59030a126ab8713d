"""The naming function is the join key: every spelling of a location names one dataset."""

import re

import pytest

from crossline.emitters.naming import (
    Arn,
    DatasetName,
    dataset_name,
    feature_group,
    glue_table,
    parse_arn,
    sagemaker_arn,
)
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


# --- ARNs -----------------------------------------------------------------------------

SM = "arn:aws:sagemaker:eu-west-1:123456789012"
GLUE = "arn:aws:glue:eu-west-1:123456789012"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        # Glue tables: the OpenLineage naming spec.
        (f"{GLUE}:table/credit/accounts", DatasetName(GLUE, "table/credit/accounts")),
        (
            "arn:aws-cn:glue:cn-north-1:123456789012:table/db/t",
            DatasetName("arn:aws-cn:glue:cn-north-1:123456789012", "table/db/t"),
        ),
        # SageMaker: ours, mirroring the Glue rule; ids lower-cased as AWS spells them.
        (f"{SM}:feature-group/accounts", DatasetName(SM, "feature-group/accounts")),
        (f"{SM}:feature-group/Accounts", DatasetName(SM, "feature-group/accounts")),
        (
            f"{SM}:training-job/credit-xgb-2027W10-a3c7",
            DatasetName(SM, "training-job/credit-xgb-2027w10-a3c7"),
        ),
        (f"{SM}:processing-job/eval-2027w10", DatasetName(SM, "processing-job/eval-2027w10")),
        (f"{SM}:transform-job/batch-1", DatasetName(SM, "transform-job/batch-1")),
        (f"{SM}:model-package/credit-xgb/73", DatasetName(SM, "model-package/credit-xgb/73")),
        (f"{SM}:model-package-group/credit-xgb", DatasetName(SM, "model-package-group/credit-xgb")),
        (f"{SM}:model/credit-xgb-73", DatasetName(SM, "model/credit-xgb-73")),
        (f"{SM}:endpoint/credit-prod", DatasetName(SM, "endpoint/credit-prod")),
        (
            f"{SM}:endpoint-config/credit-prod-v73",
            DatasetName(SM, "endpoint-config/credit-prod-v73"),
        ),
        (
            f"{SM}:artifact/0123456789abcdef0123456789abcdef",
            DatasetName(SM, "artifact/0123456789abcdef0123456789abcdef"),
        ),
        (f"{SM}:action/credit-xgb-73-approval", DatasetName(SM, "action/credit-xgb-73-approval")),
        (f"{SM}:context/credit-prod-1700000000", DatasetName(SM, "context/credit-prod-1700000000")),
        (
            f"{SM}:experiment-trial-component/credit-xgb-2027w10-a3c7-aws-training-job",
            DatasetName(SM, "experiment-trial-component/credit-xgb-2027w10-a3c7-aws-training-job"),
        ),
        # S3 ARNs name the same dataset as the URI.
        ("arn:aws:s3:::credit/train/2027-W10/", DatasetName("s3://credit", "train/2027-W10")),
        ("  arn:aws:s3:::policy/excl-v14.csv\n", DatasetName("s3://policy", "excl-v14.csv")),
    ],
)
def test_arns(arn: str, expected: DatasetName) -> None:
    assert dataset_name(arn) == expected


def test_every_spelling_of_a_location_joins() -> None:
    """A URI, an S3 ARN, and the builders agree with what the API returns."""
    s3_arn = "arn:aws:s3:::credit/train/2027-W10"
    assert dataset_name("s3a://credit/train/2027-W10/") == dataset_name(s3_arn)
    assert glue_table("eu-west-1", "123456789012", "credit", "accounts") == dataset_name(
        f"{GLUE}:table/credit/accounts"
    )
    assert feature_group("eu-west-1", "123456789012", "Accounts") == dataset_name(
        f"{SM}:feature-group/accounts"
    )
    built = sagemaker_arn(
        "training-job", "credit-xgb-2027W10-a3c7", region="eu-west-1", account="123456789012"
    )
    assert built == f"{SM}:training-job/credit-xgb-2027w10-a3c7"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            f"{SM}:model-package/credit-xgb/73",
            Arn("aws", "sagemaker", "eu-west-1", "123456789012", "model-package", "credit-xgb/73"),
        ),
        (
            "arn:aws:iam::123456789012:role/risk-ops",
            Arn("aws", "iam", "", "123456789012", "role", "risk-ops"),
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/RiskOps/risk-ops@company.com",
            Arn("aws", "sts", "", "123456789012", "assumed-role", "RiskOps/risk-ops@company.com"),
        ),
        (
            "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
            Arn("aws", "iam", "", "aws", "policy", "AmazonSageMakerFullAccess"),
        ),
        ("arn:aws:s3:::credit/train/", Arn("aws", "s3", "", "", "", "credit/train/")),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:score",
            Arn("aws", "lambda", "us-east-1", "123456789012", "function", "score"),
        ),
        (
            "arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:endpoint/e",
            Arn("aws-us-gov", "sagemaker", "us-gov-west-1", "123456789012", "endpoint", "e"),
        ),
    ],
)
def test_parse_arn(arn: str, expected: Arn) -> None:
    parsed = parse_arn(arn)
    assert parsed == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "no OpenLineage naming rule"),
        ("arn:aws:sagemaker", "not an ARN"),
        ("arn:aws:sagemaker:eu-west-1:123456789012:", "not an ARN"),
        ("arn:aws:sagemaker:eu-west-1:12345:endpoint/e", "not an ARN"),
        ("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/my endpoint", "not an ARN"),
        ("arn:foo:sagemaker:eu-west-1:123456789012:endpoint/e", "not an ARN"),
        ("arn:aws:sagemaker:Europe:123456789012:endpoint/e", "not an ARN"),
        ("ARN:aws:sagemaker:eu-west-1:123456789012:endpoint/e", "not an ARN"),
        ("arn:aws:sagemaker:eu-west-1:123456789012:endpoint", "not '{type}/{id}'"),
        ("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/", "empty resource id"),
        (f"{SM}:model-package/credit-xgb//73", "empty resource id"),
        (f"{SM}:Endpoint/e", "resource type 'Endpoint' is malformed"),
        ("arn:aws:sagemaker:eu-west-1:123456789012:endpoint:e", "SageMaker ARN resource is not"),
        ("arn:aws:sagemaker::123456789012:endpoint/e", "without a region or account"),
        ("arn:aws:sagemaker:eu-west-1::endpoint/e", "without a region or account"),
        ("arn:aws:glue:eu-west-1:123456789012:database/credit", "only Glue tables"),
        ("arn:aws:glue:eu-west-1:123456789012:table/credit", "only Glue tables"),
        ("arn:aws:glue:eu-west-1:123456789012:table/a/b/c", "only Glue tables"),
        ("arn:aws:iam::123456789012:role/risk-ops", "no OpenLineage naming rule for iam"),
        ("arn:aws:s3:::credit", "no key or prefix"),
        ("arn:aws:s3:::/key", "empty resource id"),
    ],
)
def test_unnameable_arns_are_refused(value: str, message: str) -> None:
    with pytest.raises(InvalidEvent, match=re.escape(message)) as raised:
        dataset_name(value)
    assert repr(value.strip()) in str(raised.value) or repr(value) in str(raised.value)


@pytest.mark.parametrize("value", [None, 42, b"s3://credit/x"])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidEvent, match=re.escape(repr(value))):
        dataset_name(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent, match="must be a string"):
        parse_arn(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"region": "", "account": "123456789012"}, "needs a region and a 12-digit account"),
        ({"region": "eu-west-1", "account": "12"}, "needs a region and a 12-digit account"),
    ],
)
def test_sagemaker_arn_refuses_missing_parts(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        sagemaker_arn("endpoint", "credit-prod", **kwargs)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://credit/train/2027-W10/", ("credit", "train/2027-W10/")),
        ("s3a://credit/eval/2027-W10/evaluation.json", ("credit", "eval/2027-W10/evaluation.json")),
    ],
)
def test_s3_location_keeps_the_key_as_written(uri: str, expected: tuple[str, str]) -> None:
    from crossline.emitters.naming import s3_location

    assert s3_location(uri) == expected


@pytest.mark.parametrize("uri", ["arn:aws:glue:us-east-1:123456789012:table/db/t", "s3://bucket/", "/tmp/x"])
def test_s3_location_refuses_what_is_not_an_s3_object_or_prefix(uri: str) -> None:
    from crossline.emitters.naming import s3_location

    with pytest.raises(InvalidEvent):
        s3_location(uri)
