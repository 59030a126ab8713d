"""The errors the lineage emulator sends over the wire.

Contract: every error is a moto ``ServiceException`` whose ``code`` is the error shape
SageMaker's API model declares (``ValidationException``, ``ResourceNotFound``,
``ResourceLimitExceeded``), so moto serializes it and botocore raises a ``ClientError``
carrying that code, exactly as against AWS. These never leave the moto server process;
crossline code on the client side sees botocore errors, not these.
"""

from __future__ import annotations

from moto.sagemaker.exceptions import SagemakerClientError


class ValidationException(SagemakerClientError):
    code = "ValidationException"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ResourceNotFound(SagemakerClientError):
    code = "ResourceNotFound"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ResourceLimitExceeded(SagemakerClientError):
    code = "ResourceLimitExceeded"

    def __init__(self, message: str) -> None:
        super().__init__(message)
