"""SageMaker's endpoints and their deployment history (processor 8 of the source).

Contract: ``endpoints`` reads each endpoint modified after the watermark, whole:
``ENDPOINT``, ``ENDPOINT_VARIANT`` (``VARIANT_OF``), ``MODEL`` nodes and ``SERVES``
edges (package, or a model made without one, -> variant) from the deployment history:
the Endpoint context's ModelDeployment actions by CreationTime, each deployment's
endpoint config, its variants and their models. Each deployment gives, for every variant
of its config and every package (or model) that variant serves, a SERVES edge valid from
that deployment (its fact time): the facts, not the intervals. When each one ends (the
next deployment of the endpoint, whichever system reported it, and a late-read
intermediate one included) is derived from all of them by ``collectors.timeline``. A
variant is valid from its first deployment. An endpoint with no ModelDeployment history
is taken as serving its current config since its last modification, with a warning; a
config that cannot be described serves nothing (its ModelDeployment action still ends
what it replaced), with a warning. One endpoint's whole history is one batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, variant_id
from crossline.collectors.sources import Batch
from crossline.collectors.sources.sagemaker.common import SOURCE, Api, Run, drop_none, is_arn, iso
from crossline.times import coerce


def model_containers(model: dict[str, Any]) -> list[dict[str, Any]]:
    return ([model["PrimaryContainer"]] if model.get("PrimaryContainer") else []) + list(model.get("Containers") or [])


# -- 8. endpoints ---------------------------------------------------------------------
def endpoints(api: Api, run: Run) -> Iterator[Batch]:
    for items in api.pages(run, "list_endpoints", "Endpoints", LastModifiedTimeAfter=run.since,
                           SortBy="CreationTime", SortOrder="Ascending"):
        for item in items:
            run.scan("endpoint")
            if not run.changed(item.get("CreationTime"), item.get("LastModifiedTime")):
                continue
            _endpoint(api, run, item["EndpointName"])
            batch = run.flush()  # one endpoint's whole history per batch
            if batch:
                yield batch


def _endpoint(api: Api, run: Run, name: str) -> None:
    endpoint = api.describe(run, api.client.describe_endpoint, f"endpoint {name}", EndpointName=name)
    if endpoint is None:
        return
    arn = endpoint["EndpointArn"]
    capture = endpoint.get("DataCaptureConfig") or {}
    run.node(Node(NodeId(arn), NodeKind.ENDPOINT, name, SOURCE, drop_none({
        "status": endpoint.get("EndpointStatus"),
        "endpointConfigName": endpoint.get("EndpointConfigName"),
        "variants": [v.get("VariantName") for v in endpoint.get("ProductionVariants") or []],
        "dataCapture": drop_none({"enabled": capture.get("EnableCapture"),
                                   "destination": capture.get("DestinationS3Uri")}) or None,
        "creationTime": iso(endpoint.get("CreationTime")),
        "lastModifiedTime": iso(endpoint.get("LastModifiedTime")),
        "api": "DescribeEndpoint",
    })))
    deployments = _deployments(api, run, arn, endpoint)
    configs: dict[str, dict[str, Any] | None] = {}
    models: dict[str, dict[str, Any] | None] = {}
    first: dict[str, Any] = {}  # variant -> its first deployment's time
    for deployment in deployments:
        config_name = deployment["config"]
        if config_name not in configs:
            configs[config_name] = api.describe(run, api.client.describe_endpoint_config,
                                                f"endpoint config {config_name} of {name}",
                                                EndpointConfigName=config_name)
        config = configs[config_name]
        if config is None:
            run.warn(f"deployment {deployment['action']} of {name}: endpoint config {config_name} cannot be "
                     "described; what it served is unknown and what it replaced ends here",
                     f"DescribeEndpointConfig(EndpointConfigName={config_name})", "unavailable")
        for variant in (config or {}).get("ProductionVariants") or []:
            variant_name = variant.get("VariantName", "")
            first.setdefault(variant_name, deployment["at"])
            for server, model in _servers(api, run, variant.get("ModelName"), models, name):
                _serves(run, arn, variant_name, server, model, deployment)
    for variant_name, since in sorted(first.items()):
        node_id = variant_id(arn, variant_name)
        run.node(Node(node_id, NodeKind.ENDPOINT_VARIANT, f"{name}/{variant_name}", SOURCE,
                      {"endpoint": name, "endpointArn": arn, "variant": variant_name,
                       "api": "DescribeEndpointConfig"},
                      valid_from=since))
        run.edge(Edge(node_id, NodeId(arn), EdgeKind.VARIANT_OF, SOURCE, {"api": "DescribeEndpointConfig"}))


def _serves(run: Run, endpoint_arn: str, variant_name: str, server: str, model: dict[str, Any] | None,
            deployment: dict[str, Any]) -> None:
    model = model or {}
    props = drop_none({
        "deploymentAction": deployment["action"],
        "endpointConfigName": deployment["config"],
        "model": model.get("ModelArn"),
        "modelName": model.get("ModelName"),
        "api": f"{deployment['api']}+DescribeEndpointConfig+DescribeModel",
    })
    run.edge(Edge(NodeId(server), variant_id(endpoint_arn, variant_name), EdgeKind.SERVES, SOURCE, props,
                  valid_from=deployment["at"], at=deployment["at"]))


def _deployments(api: Api, run: Run, endpoint_arn: str, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """The endpoint's deployments, oldest first: time, ModelDeployment action, config name."""
    context = api.first(run, "list_contexts", "ContextSummaries", SourceUri=endpoint_arn, ContextType="Endpoint")
    if context is not None:
        action_arns = [
            a["SourceArn"]
            for items in api.pages(run, "list_associations", "AssociationSummaries",
                                   DestinationArn=context["ContextArn"], SourceType="ModelDeployment")
            for a in items
        ]
        via = "ListAssociations(endpoint context)+DescribeAction"
    else:
        run.warn(f"endpoint {endpoint_arn} has no Endpoint context: deployments read from its actions",
                 f"ListContexts(SourceUri={endpoint_arn}, ContextType=Endpoint)", "note")
        action_arns = [
            a["ActionArn"]
            for items in api.pages(run, "list_actions", "ActionSummaries", SourceUri=endpoint_arn,
                                   ActionType="ModelDeployment")
            for a in items
        ]
        via = "ListActions(SourceUri=endpoint)+DescribeAction"
    deployments = []
    for action_arn in action_arns:
        action = api.describe(run, api.client.describe_action, f"deployment action {action_arn}",
                              ActionName=action_arn)
        if action is None:
            continue
        config = (action.get("Properties") or {}).get("EndpointConfigName")
        at = coerce(action.get("CreationTime"))
        if not config or at is None:
            run.warn(f"deployment action {action_arn} names no EndpointConfigName or time: not used",
                     f"DescribeAction(ActionName={action_arn})")
            continue
        deployments.append({"at": at, "action": action_arn, "config": config, "api": via})
    if not deployments:
        at = coerce(endpoint.get("LastModifiedTime") or endpoint.get("CreationTime"))
        run.warn(f"endpoint {endpoint_arn} has no ModelDeployment history: its current config "
                 f"{endpoint.get('EndpointConfigName')} is taken as serving since its last modification",
                 f"DescribeEndpoint(EndpointName={endpoint.get('EndpointName')})", "note")
        if at is not None and endpoint.get("EndpointConfigName"):
            deployments.append({"at": at, "action": None, "config": endpoint["EndpointConfigName"],
                                "api": "DescribeEndpoint"})
    return sorted(deployments, key=lambda d: (d["at"], d["action"] or ""))


def _servers(api: Api, run: Run, model_name: str | None, models: dict[str, dict[str, Any] | None],
             endpoint: str) -> Iterable[tuple[str, dict[str, Any] | None]]:
    """What a variant's model serves: its packages, or the model itself when made without one."""
    if not model_name:
        run.warn(f"a variant of endpoint {endpoint} names no model", f"DescribeEndpointConfig (endpoint {endpoint})")
        return []
    if model_name not in models:
        models[model_name] = api.describe(run, api.client.describe_model, f"model {model_name} of {endpoint}",
                                          ModelName=model_name)
        model = models[model_name]
        if model is not None:
            containers = model_containers(model)
            run.node(Node(NodeId(model["ModelArn"]), NodeKind.MODEL, model_name, SOURCE, drop_none({
                "containers": [drop_none({"image": c.get("Image"), "modelDataUrl": c.get("ModelDataUrl"),
                                           "modelPackage": c.get("ModelPackageName")}) for c in containers],
                "creationTime": iso(model.get("CreationTime")),
                "api": "DescribeModel",
            })))
    model = models[model_name]
    if model is None:
        return []
    servers = []
    for container in model_containers(model):
        package = container.get("ModelPackageName")
        if package and not is_arn(package, "model-package"):
            described = api.describe(run, api.client.describe_model_package, f"model package {package}",
                                     ModelPackageName=package)
            package = (described or {}).get("ModelPackageArn")
        if package:
            servers.append((package, model))
    return servers or [(model["ModelArn"], model)]


__all__ = ["endpoints"]
