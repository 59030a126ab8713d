"""SageMaker's endpoints and their deployment history (processor 8 of the source).

Contract: ``endpoints`` reads each endpoint modified after the watermark, whole:
``ENDPOINT``, ``ENDPOINT_VARIANT`` (``VARIANT_OF``), ``MODEL`` nodes and ``SERVES``
edges (package, or a model made without one, -> variant) from the deployment history:
the Endpoint context's ModelDeployment actions by CreationTime, each deployment's
endpoint config, its variants and their models. A SERVES edge is valid from the
deployment that put it there until the deployment that replaced it; a variant from its
first deployment until one without it. An endpoint with no ModelDeployment history is
taken as serving its current config since its last modification, with a warning; a
config that cannot be described ends what it replaced and serves nothing, with a
warning. One endpoint's whole history is one batch.
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
    # (variant, server) -> the edge's start: time, deployment action, config name
    live: dict[tuple[str, str], dict[str, Any]] = {}
    variants: dict[str, dict[str, Any]] = {}
    for deployment in deployments:
        config_name = deployment["config"]
        if config_name not in configs:
            configs[config_name] = api.describe(run, api.client.describe_endpoint_config,
                                                f"endpoint config {config_name} of {name}",
                                                EndpointConfigName=config_name)
        config = configs[config_name]
        now: dict[tuple[str, str], dict[str, Any]] = {}
        if config is None:
            run.warn(f"deployment {deployment['action']} of {name}: endpoint config {config_name} cannot be "
                     "described; what it served is unknown and what it replaced ends here")
        present = set()
        for variant in (config or {}).get("ProductionVariants") or []:
            variant_name = variant.get("VariantName", "")
            present.add(variant_name)
            for server, model in _servers(api, run, variant.get("ModelName"), models, name):
                now[(variant_name, server)] = {"model": model}
            variants.setdefault(variant_name, {"from": deployment["at"], "until": None})["until"] = None
        for key, start in sorted(live.items()):
            if key not in now:
                _serves(api, run, arn, key, start, deployment)
                del live[key]
        for key, what in sorted(now.items()):
            if key not in live:
                live[key] = {**what, "at": deployment["at"], "action": deployment["action"],
                             "config": config_name, "api": deployment["api"]}
        for variant_name, seen in variants.items():
            if seen["until"] is None and variant_name not in present:
                seen["until"] = deployment["at"]
    for key, start in sorted(live.items()):
        _serves(api, run, arn, key, start, None)
    for variant_name, seen in sorted(variants.items()):
        node_id = variant_id(arn, variant_name)
        run.node(Node(node_id, NodeKind.ENDPOINT_VARIANT, f"{name}/{variant_name}", SOURCE,
                      {"endpoint": name, "endpointArn": arn, "variant": variant_name,
                       "api": "DescribeEndpointConfig"},
                      valid_from=seen["from"], valid_to=seen["until"]))
        run.edge(Edge(node_id, NodeId(arn), EdgeKind.VARIANT_OF, SOURCE, {"api": "DescribeEndpointConfig"}))


def _serves(api: Api, run: Run, endpoint_arn: str, key: tuple[str, str], start: dict[str, Any],
            replaced_by: dict[str, Any] | None) -> None:
    variant_name, server = key
    model = start["model"] or {}
    props = drop_none({
        "deploymentAction": start["action"],
        "endpointConfigName": start["config"],
        "model": model.get("ModelArn"),
        "modelName": model.get("ModelName"),
        "replacedBy": replaced_by["action"] if replaced_by else None,
        "replacedByConfig": replaced_by["config"] if replaced_by else None,
        "api": f"{start['api']}+DescribeEndpointConfig+DescribeModel",
    })
    run.edge(Edge(NodeId(server), variant_id(endpoint_arn, variant_name), EdgeKind.SERVES, SOURCE, props,
                  valid_from=start["at"], valid_to=replaced_by["at"] if replaced_by else None))


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
        run.warn(f"endpoint {endpoint_arn} has no Endpoint context: deployments read from its actions")
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
            run.warn(f"deployment action {action_arn} names no EndpointConfigName or time: not used")
            continue
        deployments.append({"at": at, "action": action_arn, "config": config, "api": via})
    if not deployments:
        at = coerce(endpoint.get("LastModifiedTime") or endpoint.get("CreationTime"))
        run.warn(f"endpoint {endpoint_arn} has no ModelDeployment history: its current config "
                 f"{endpoint.get('EndpointConfigName')} is taken as serving since its last modification")
        if at is not None and endpoint.get("EndpointConfigName"):
            deployments.append({"at": at, "action": None, "config": endpoint["EndpointConfigName"],
                                "api": "DescribeEndpoint"})
    return sorted(deployments, key=lambda d: (d["at"], d["action"] or ""))


def _servers(api: Api, run: Run, model_name: str | None, models: dict[str, dict[str, Any] | None],
             endpoint: str) -> Iterable[tuple[str, dict[str, Any] | None]]:
    """What a variant's model serves: its packages, or the model itself when made without one."""
    if not model_name:
        run.warn(f"a variant of endpoint {endpoint} names no model")
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
