"""SageMaker source: SageMaker's lineage, jobs, registry and endpoints as typed graph records.

Contract: ``SageMakerSource.read(since)`` runs one processor per entity kind, in this
order, each listing through ``get_paginator`` and yielding a ``Batch`` per page (or per
package / endpoint) so nothing holds every page:

1-5. ``lineage``: artifacts, actions, contexts, associations, trial components;
6. ``jobs``: training and processing jobs;
7. ``registry``: model packages and their approval decisions;
8. ``endpoints``: endpoints, variants, models and the SERVES intervals of their
   deployment history;
9-10. ``pipelines``: pipelines and their executions (the PARENT of their step jobs,
   ``Produced`` the package they register), experiments and trials.

``source`` holds the config and the orchestration (the watermark rule below);
``common`` what processors share (one read's state, the API calls, value helpers);
``crossline.collectors.aws`` the AWS config fields, clients and error text.

Watermark: the ISO time of the newest CreationTime/LastModifiedTime seen. Lists are
asked for what was created (or, where the API can filter on it, modified) after it, and
everything is filtered again client-side, strictly after it, on the times the API
returns. Things that change are re-read whole: a package with a new Approval action
gets its full approval history again, an endpoint modified since gets its full
deployment history again (so an earlier SERVES edge gets its ``valid_to``). Batches
before the last carry ``since`` unchanged; only the last carries the new watermark, and
only if every list call succeeded, so a crash or a failed list re-reads (records are
upserted; reading twice gives identical records). Known limits: artifacts and actions
updated in place after creation are seen only from scratch (SageMaker has no
modified-after filter for them; contexts, which SageMaker updates, are scanned whole);
an entity stamped within the same millisecond as the watermark but created after the
read is missed.

Errors: ``SourceError`` only when SageMaker cannot be reached (connection, credentials).
An API error is a warning in ``report`` and the batch, naming the call
(``DescribeAction(ActionName=...)``): a failed list holds the watermark; an entity gone
between list and describe is skipped. Throttling and transient errors are retried by
crossline's ``aws.Retry`` (not boto3's adaptive mode, whose token bucket made a read over
100x slower at 30 % throttling): full-jitter exponential backoff from 10 ms, up to
``max_attempts`` per call and ``retry_budget`` seconds of waiting in all; a call still
throttled after that is a warning like any other error, and the watermark holds. At
30 % throttling of every SageMaker call the read gives the same graph, under 3x slower
(``benchmarks/throttle.py``).
"""

from __future__ import annotations

from crossline.collectors.sources.sagemaker.common import SageMakerReport
from crossline.collectors.sources.sagemaker.source import SageMakerConfig, SageMakerSource

__all__ = ["SageMakerConfig", "SageMakerReport", "SageMakerSource"]
