"""collectors.timeline: decisions and serving intervals from the whole set of facts, whatever their order.

Records are built as the SageMaker source and the OpenLineage converter write them; the
rules are checked here on their own, the worlds on the bed in test_trace_worlds.py.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from crossline.collectors import timeline
from crossline.collectors.model import Edge, EdgeKind, Node, NodeId, NodeKind, approval_id, dataset_id, variant_id
from crossline.times import stamp

SM = "arn:aws:sagemaker:us-east-1:123456789012"
PACKAGE = f"{SM}:model-package/credit-xgb/73"
PACKAGE_74 = f"{SM}:model-package/credit-xgb/74"
ENDPOINT = f"{SM}:endpoint/credit-prod"
ALL = variant_id(ENDPOINT, "AllTraffic")
T0 = datetime(2027, 3, 8, 9, 42, tzinfo=UTC)
ALICE = "arn:aws:sts::123456789012:assumed-role/risk-ops/alice@company.com"
BOB = "arn:aws:sts::123456789012:assumed-role/risk-ops/bob@company.com"


def sagemaker_decision(status: str, at: datetime, who: str = ALICE, package: str = PACKAGE) -> Node:
    return Node(approval_id(package, at), NodeKind.APPROVAL, f"credit-xgb/73 {status}", "sagemaker",
                {"status": status, "approver": timeline.person(who), "approverArn": who, "package": package,
                 "time": stamp(at), "action": f"{SM}:action/approval-{at:%d%H%M%S}"}, valid_from=at, at=at)


def openlineage_decision(status: str, at: datetime, who: str = ALICE, package: str = PACKAGE) -> Node:
    return Node(approval_id(package, at, system="openlineage"), NodeKind.APPROVAL, f"{status} by {who}", "openlineage-file",
                {"status": status, "approver": who, "approverIamArn": who, "decisionTime": stamp(at),
                 "modelPackageArn": package, "run": "run:0190a8f4-0000-7000-8000-00000000000a"}, valid_from=at, at=at)


def timeline_of(*nodes: Node) -> list[timeline.Decision]:
    facts = [timeline.decision_fact(n) for n in nodes]
    return timeline.decisions([f for f in facts if f is not None]).get(PACKAGE, [])


def test_the_same_decision_seen_by_both_systems_is_one() -> None:
    decisions = timeline_of(sagemaker_decision("Approved", T0), openlineage_decision("Approved", T0 + timedelta(seconds=2)))
    [decision] = decisions
    assert decision.systems == ["sagemaker", "openlineage"]
    assert decision.at == T0  # the registry's time
    assert decision.approver == "alice@company.com"
    [join] = decision.joined
    assert join["rule"] == timeline.SAME_DECISION and join["deltaSeconds"] == 2.0
    assert not decision.conflicts


def test_beyond_the_tolerance_they_are_two_decisions() -> None:
    late = T0 + timeline.APPROVAL_TOLERANCE + timedelta(seconds=1)
    decisions = timeline_of(sagemaker_decision("Approved", T0), openlineage_decision("Approved", late))
    assert [(d.systems, d.at) for d in decisions] == [(["sagemaker"], T0), (["openlineage"], late)]
    assert decisions[0].until == late


def test_a_different_approver_is_a_conflict() -> None:
    [decision] = timeline_of(sagemaker_decision("Approved", T0, ALICE), openlineage_decision("Approved", T0, BOB))
    [conflict] = decision.conflicts
    assert conflict["kind"] == "approver"
    assert {r["approver"] for r in conflict["records"]} == {"alice@company.com", "bob@company.com"}


def test_a_different_status_at_the_same_time_is_a_conflict() -> None:
    decisions = timeline_of(sagemaker_decision("Approved", T0), openlineage_decision("Rejected", T0 + timedelta(seconds=1)))
    assert len(decisions) == 2
    assert all(c["kind"] == "status" for d in decisions for c in d.conflicts) and all(d.conflicts for d in decisions)


def test_each_decision_holds_until_the_next_whatever_the_order() -> None:
    nodes = [
        sagemaker_decision("PendingManualApproval", T0 - timedelta(days=2)),
        sagemaker_decision("Approved", T0),
        openlineage_decision("Approved", T0 + timedelta(seconds=1)),
        sagemaker_decision("Rejected", T0 + timedelta(days=2), BOB),
        openlineage_decision("Rejected", T0 + timedelta(days=2), BOB),
        sagemaker_decision("Approved", T0 + timedelta(days=3), BOB),
    ]
    expected = None
    for order in itertools.islice(itertools.permutations(nodes), 0, None, 37):
        got = [(d.status, d.at, d.until, d.systems) for d in timeline_of(*order)]
        expected = expected or got
        assert got == expected
    assert [s for s, *_ in expected] == ["PendingManualApproval", "Approved", "Rejected", "Approved"]
    assert expected[1][2] == T0 + timedelta(days=2)  # approved until revoked
    decisions = timeline_of(*nodes)
    assert timeline.in_force(decisions, T0 + timedelta(days=2, hours=1)).status == "Rejected"
    assert timeline.in_force(decisions, T0 - timedelta(days=3)) is None
    assert [d.status for d in timeline.history(decisions, T0)] == ["PendingManualApproval", "Approved"]


def test_a_duplicated_record_is_one_decision() -> None:
    again = sagemaker_decision("Approved", T0)
    assert len(timeline_of(again, again, openlineage_decision("Approved", T0), openlineage_decision("Approved", T0))) == 1


# -- serving ------------------------------------------------------------------------------------
def sagemaker_serves(package: str, variant: str, at: datetime, action: str) -> Edge:
    return Edge(NodeId(package), variant, EdgeKind.SERVES, "sagemaker",
                {"deploymentAction": action, "endpointConfigName": f"config-{action}"}, valid_from=at, at=at)


def openlineage_serves(package: str, variant: str, at: datetime) -> Edge:
    return Edge(dataset_id(package), variant, EdgeKind.SERVES, "openlineage-file",
                {"deployedTime": stamp(at), "run": f"run:{at:%d%H%M}", "modelName": "m"}, valid_from=at, at=at)


def intervals(*edges: Edge, actions: tuple[tuple[str, datetime, str], ...] = ()) -> dict[tuple[str, ...], tuple]:
    facts = [f for f in (timeline.serving_fact(e) for e in edges) if f is not None]
    return {key: (valid_to, derived) for key, (valid_to, derived) in timeline.serving(facts, actions).items()}


def test_a_reused_variant_name_updated_twice_has_one_interval_per_deployment() -> None:
    t1, t2, t3 = T0, T0 + timedelta(days=7), T0 + timedelta(days=14)
    edges = [sagemaker_serves(PACKAGE, ALL, t1, "a1"), sagemaker_serves(PACKAGE_74, ALL, t2, "a2"),
             sagemaker_serves(PACKAGE, ALL, t3, "a3")]
    for order in itertools.permutations(edges):
        found = intervals(*order)
        assert [found[e.key][0] for e in edges] == [t2, t3, None]
        assert found[edges[0].key][1]["replacedBy"]["refs"] == ["a2"]


def test_a_late_intermediate_deployment_shortens_the_interval_before_it() -> None:
    t1, t2, t3 = T0, T0 + timedelta(days=7), T0 + timedelta(days=14)
    first, last = sagemaker_serves(PACKAGE, ALL, t1, "a1"), sagemaker_serves(PACKAGE, ALL, t3, "a3")
    assert intervals(first, last)[first.key][0] == t3
    middle = sagemaker_serves(PACKAGE_74, ALL, t2, "a2")
    assert intervals(first, last, middle)[first.key][0] == t2


def test_a_variant_left_out_of_the_next_config_stops_serving() -> None:
    v73, v74 = variant_id(ENDPOINT, "credit-prod-v73"), variant_id(ENDPOINT, "credit-prod-v74")
    old, new = sagemaker_serves(PACKAGE, v73, T0, "a1"), sagemaker_serves(PACKAGE_74, v74, T0 + timedelta(days=7), "a2")
    found = intervals(old, new)
    assert (found[old.key][0], found[new.key][0]) == (T0 + timedelta(days=7), None)


def test_an_undescribable_deployment_still_ends_what_it_replaced() -> None:
    old = sagemaker_serves(PACKAGE, ALL, T0, "a1")
    later = T0 + timedelta(days=1)
    assert intervals(old, actions=((ENDPOINT, later, "a2"),))[old.key][0] == later


def test_both_sides_record_one_deployment_and_openlineage_alone_closes_too() -> None:
    t1, t2 = T0, T0 + timedelta(days=7)
    sm1, sm2 = sagemaker_serves(PACKAGE, ALL, t1, "a1"), sagemaker_serves(PACKAGE_74, ALL, t2, "a2")
    ol1, ol2 = openlineage_serves(PACKAGE, ALL, t1 + timedelta(minutes=3)), openlineage_serves(PACKAGE_74, ALL, t2 + timedelta(seconds=40))
    found = intervals(sm1, sm2, ol1, ol2)
    assert found[sm1.key][0] == found[ol1.key][0] == t2  # one deployment: the next one ends both records of it
    assert found[ol2.key][0] is None
    [same] = found[ol1.key][1]["sameDeployment"]
    assert same["rule"] == timeline.SAME_DEPLOYMENT and same["system"] == "sagemaker" and same["deltaSeconds"] == 180
    # OpenLineage alone: its deployment facets close each other
    alone = intervals(ol1, ol2)
    assert alone[ol1.key][0] == ol2.valid_from and alone[ol2.key][0] is None


def test_the_other_side_naming_another_server_is_a_conflict() -> None:
    sm = sagemaker_serves(PACKAGE, ALL, T0, "a1")
    ol = openlineage_serves(PACKAGE_74, ALL, T0 + timedelta(seconds=5))
    found = intervals(sm, ol)
    [conflict] = found[ol.key][1]["conflicts"]
    assert conflict["rule"].startswith("conflict:") and conflict["server"] == dataset_id(PACKAGE)
    assert found[sm.key][0] is None and found[ol.key][0] is None  # the same deployment: neither ends the other


@pytest.mark.parametrize("ref", [ALICE, "alice@company.com"])
def test_person_is_the_session_name_or_the_text(ref: str) -> None:
    assert timeline.person(ref) == "alice@company.com"
