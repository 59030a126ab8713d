"""SageMaker lineage API emulator, installed into moto (which has none).

Contract: ``install()`` extends moto *in this process*, idempotently, so that a moto server
started afterwards answers the SageMaker lineage API on the real wire protocol:

- CreateArtifact/Action/Context, Describe*, List* (filters, sorting, pagination), Update*,
  Delete*; AddAssociation, DeleteAssociation, ListAssociations; QueryLineage.
- SageMaker's own lineage appears when moto creates a training job, a processing job, a
  model package, an approval (UpdateModelPackage), an endpoint or an endpoint update.

It adds methods to moto's ``SageMakerResponse`` (moto dispatches an action to the
snake_case method of that name) and wraps six ``SageMakerModelBackend`` methods; nothing
of moto is copied. State lives in moto's per-account/region SageMaker backend, so
``/moto-api/reset`` clears it. Modules: ``models`` (backend, one method per action),
``responses`` (wire side), ``query`` (QueryLineage), ``autocreate`` (SageMaker's own
lineage), ``exceptions`` (AWS error codes). Run a server standalone with
``crossline-bed aws [--host H] [--port P]``.

Errors, as AWS gives them: ValidationException (bad parameter, malformed ARN, duplicate
name, second artifact for a SourceUri, bad NextToken, QueryLineage StartArns > 1,
MaxDepth > 10, MaxResults > 50); ResourceNotFound (unknown entity or association);
ResourceLimitExceeded at the documented ceilings on manually created entities — 3000
actions, 6000 artifacts, 6000 associations, 500 contexts; auto-created ones don't count.
ARNs: ``artifact/{32 hex}``, ``action/{name}``, ``context/{name}``,
``experiment-trial-component/{name}``.

The auto-created graph (edges are source -AssociationType-> destination):

- Training job J: trial component ``J-aws-training-job`` (moto's own, so
  DescribeTrialComponent works; vertex Type ``TrainingJob``).
  Image (TrainingImage) -ContributedTo-> TC; DataSet (each channel's S3Uri)
  -ContributedTo-> TC; TC -Produced-> Model (S3ModelArtifacts); TC -Produced-> Checkpoint
  (CheckpointConfig.S3Uri).
- Processing job P: TC ``P-aws-processing-job`` (Type ``ProcessingJob``); Image (ImageUri)
  and DataSet (each input's S3Uri) -ContributedTo-> TC; TC -Produced-> DataSet (each
  output's S3Uri).
- Model package: artifact ``ModelPackage`` (SourceUri = package ARN); each inference
  container's Image and Model (ModelDataUrl) -ContributedTo-> it; it -AssociatedWith->
  the group's context ``{group}-{epoch}-aws-model-package-group`` (Type ``ModelGroup``,
  one per group, SourceUri = group ARN); action ``ModelPackageCreation`` -Produced-> it.
- Approval (CreateModelPackage or UpdateModelPackage with ModelApprovalStatus): an
  ``Approval`` action -AssociatedWith-> the package artifact, one per decision, with
  Properties ModelApprovalStatus, ApprovalDescription, ApprovedBy (caller's IAM ARN),
  ApprovalTime (ISO 8601), and CreatedBy.IamIdentity of the caller.
- Endpoint E: context ``E-{epoch}-aws-endpoint`` (Type ``Endpoint``, SourceUri = endpoint
  ARN, property EndpointConfigName = the current config); action
  ``E-{epoch}-aws-model-deployment`` (Type ``ModelDeployment``, property
  EndpointConfigName) -AssociatedWith-> the context; for each variant's model container,
  the Image, Model (ModelDataUrl) and, for a container made from a package, ModelPackage
  artifacts -ContributedTo-> the deployment action.
- UpdateEndpoint of E (added by ``crossline_bed.sagemaker_endpoints``): one more
  ModelDeployment action, built as above for the new config's variants, on the same
  context (``E-{epoch}-{n}-aws-model-deployment`` if the name is taken within the
  second). Earlier deployment actions stay, so ListActions(SourceUri=endpoint ARN,
  ActionType=ModelDeployment) ordered by CreationTime is the endpoint's deployment
  history.
- So Ascendants from the endpoint context reach the training data in four hops:
  Endpoint <- ModelDeployment <- Model <- TrainingJob <- DataSet.

Choices where AWS's documentation is vague (and why):

- Types use the names the SageMaker Python SDK filters on (``LineageSourceEnum``:
  DataSet, Image, Model, ModelDeployment, Endpoint, ModelGroup, TrainingJob,
  ProcessingJob, Approval), so SDK-style queries work here. ``ModelPackage``,
  ``Checkpoint`` and ``ModelPackageCreation`` are ours; the docs name no type for them.
- The training output artifact is keyed by S3ModelArtifacts (the model.tar.gz), not the
  S3OutputPath prefix the guide mentions: that is the URI a Model or model package
  references, and one-artifact-per-SourceUri then joins training to deployment.
- A second CreateArtifact for an existing SourceUri is a ValidationException naming the
  existing ARN; auto-creation reuses that artifact instead. A duplicate AddAssociation is
  a ValidationException too (the guide: "An error occurs if you try to create an entity
  that already exists").
- Deleting an artifact, action or context also deletes its associations.
- QueryLineage: Both = union of the Ascendants and Descendants walks; the start vertex is
  not returned; filters pick returned vertices but the walk passes through the others;
  MaxResults pages vertices and edges in step (see ``query``).
- The approver is the caller as moto's STS sees it (the request's access key). Approval
  is an action rather than a property of the package artifact so that each decision, and
  its time, stays in the graph.
- List* default to SortOrder Descending, as the API reference states.

Departures from AWS that we know of: artifacts carry no SourceTypes (S3ETag etc.); no
lineage for transform jobs or models outside endpoints; experiments and
trials have no Vertex type and are not returned by QueryLineage; Tags are stored but not
served by ListTags.
"""

from __future__ import annotations

from crossline_bed.moto_ext import wrap_after
from crossline_bed.sagemaker_lineage.autocreate import HOOKS
from crossline_bed.sagemaker_lineage.models import LineageBackend, lineage_backend
from crossline_bed.sagemaker_lineage.responses import (
    ACTION_METHODS,
    LineageResponses,
    call_action_with_caller,
)

__all__ = ["LineageBackend", "install", "lineage_backend"]

_MARK = "_crossline_lineage"


def install() -> None:
    """Extend moto's SageMaker in this process; calling it again changes nothing."""
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    from crossline_bed import sagemaker_endpoints

    # UpdateEndpoint is crossline's, not moto's: it must exist before its hook wraps it.
    sagemaker_endpoints.install()
    for name in ACTION_METHODS:
        setattr(SageMakerResponse, name, getattr(LineageResponses, name))
    if not getattr(SageMakerResponse.call_action, _MARK, False):
        wrapped = call_action_with_caller(SageMakerResponse.call_action)
        setattr(wrapped, _MARK, True)
        SageMakerResponse.call_action = wrapped  # type: ignore[method-assign]
    for method_name, hook in HOOKS.items():
        wrap_after(SageMakerModelBackend, method_name, hook, _MARK)

