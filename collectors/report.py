"""The trace as people and machines read it: a terminal tree, JSON, Markdown and PDF.

Contract: each renderer takes a ``Trace`` and shows the same five answers, in the order
of SCENARIO.md, each line with its evidence; gaps are printed as gaps. The approval is
the decision in force at the trace's time, with the decision history up to it; a model
that was not approved then says so plainly (``NOT APPROVED``), and every finding is
printed as one. ``to_json`` is the machine form, documented by the JSON Schema
``collectors/schemas/1-1-0/Trace.json`` (its ``$id`` is the ``schema`` field).
``to_pdf`` writes a compliance-file PDF with reportlab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from crossline.collectors.trace import Answer, Trace
from crossline.times import coerce, human


def _day(value: Any) -> str:
    """``2027-03-08T09:42:00.030Z`` -> ``2027-03-08 09:42 UTC``."""
    if not value:
        return "unknown time"
    moment = coerce(value)
    return human(moment) if moment is not None else str(value)


def _evidence(answer: Answer) -> str:
    return "; ".join(f"{e.source} {e.ref}" + (f" @ {e.time}" if e.time else "") for e in answer.evidence)


def lines(trace: Trace, *, findings: bool = True) -> list[tuple[int, str, str]]:
    """The trace as (depth, text, evidence) lines: the one layout every renderer follows.

    ``findings``: end with one ``FINDING:`` line per finding (the tree); the Markdown and
    PDF forms list them in a section of their own instead.
    """
    s, mv, td, fe, tr, ap = trace.subject.value, trace.model_version.value, trace.training_dataset.value, trace.features.value, trace.training.value, trace.approval.value
    out: list[tuple[int, str, str]] = []
    if s.get("inferenceId"):
        out.append((0, f"Inference {s['inferenceId']} ({s.get('endpoint')} / {s.get('variant')}, {s.get('inferenceTime')})", _evidence(trace.subject)))
    if trace.model_version.gap:
        out.append((0, f"GAP: {trace.model_version.gap}", ""))
        return out
    out.append((0, f"ModelPackage {mv.get('group')}/{mv.get('version')} ({_approval_state(trace)})", _evidence(trace.model_version)))
    execution = tr.get("pipelineExecution")
    if execution:
        started = (execution.get("startedBy") or {}).get("job")
        how = f"from Airflow {started}" if started else execution.get("status") or "no orchestrator run recorded"
        out.append((1, f"Pipeline execution {execution['name']} ({how})", f"sagemaker {execution['arn']}"))
    if trace.training.gap and not tr:
        out.append((1, f"GAP: {trace.training.gap}", ""))
    else:
        out.append((1, f"Training job {tr.get('trainingJobName')} (ended {_day(tr.get('endedAt'))})", _evidence(trace.training)))
        hp = " ".join(f"{k}={v}" for k, v in sorted(tr.get("hyperparameters", {}).items(), key=lambda kv: _hp_order(kv[0])))
        out.append((2, f"hyperparameters: {hp or 'none recorded'}", ""))
        out.append((2, f"metrics: {_metrics(tr.get('metrics', []))}", ""))
        if trace.training_dataset.gap and not td:
            out.append((2, f"GAP: {trace.training_dataset.gap}", ""))
        else:
            by = f", by {td['producedBy']}" if td.get("producedBy") else ""
            out.append((2, f"Training dataset s3://{_s3(td.get('dataset'))} (version {td.get('version')}){by}", _evidence(trace.training_dataset)))
            for snap in fe.get("featureSnapshots", []):
                out.append((3, _snapshot(snap), _evidence(trace.features)))
            for other in fe.get("otherInputs", []):
                label = other.get("label") or ("Exclusion list" if "excl" in other["dataset"] else "Input")
                notes = [f"version {other['contentVersion']}"] if other.get("contentVersion") else []
                notes += [f"{(m.get('value') or '').lower() or 'recorded'} {m.get('ticket') or ''}".rstrip() + f", manual {m.get('record')}"
                          for m in other.get("manual") or []]
                out.append((3, f"{label} s3://{_s3(other['dataset'])}" + (f" ({'; '.join(notes)})" if notes else ""), _evidence(trace.features)))
            if trace.features.gap:
                out.append((3, f"GAP: {trace.features.gap}", ""))
        for run in tr.get("mlflowRuns", []):
            versions = ", ".join(v["name"] + (f" ({', '.join(v['aliases'])})" if v.get("aliases") else "") for v in run.get("modelVersions", []))
            out.append((2, f"MLflow run {run.get('name')} ({run.get('runId')})" + (f" -> model version {versions}" if versions else ""), ""))
        for code in tr.get("code", []):
            origin = " (from MLflow)" if code.get("from") == "mlflow" else ""
            out.append((2, f"Code commit {code['repo'].removeprefix('https://')} @ {code['commit']}{origin}", ""))
        if trace.training.gap:
            out.append((2, f"GAP: {trace.training.gap}", ""))
    if trace.approval.gap:
        out.append((1, f"GAP: {trace.approval.gap}", ""))
    elif ap.get("manualRecords") and ap.get("approved", "approvedAt" in ap):
        for record in ap["manualRecords"]:
            out.append((1, f"Approval: decided by {record.get('decidedBy')} {_day(record.get('decidedAt'))}, ticket {record.get('ticket')}, "
                           f"manual record {record.get('record')} recorded by {record.get('recordedBy')} {_day(record.get('recordedAt'))}; "
                           f"applied in the registry by {ap.get('approver')} {_day(ap.get('approvedAt'))}", _evidence(trace.approval)))
    elif ap.get("approved", "approvedAt" in ap):
        out.append((1, f"Approval record {ap.get('approver')}, {_day(ap.get('approvedAt'))}: {ap.get('description') or ''}".rstrip(": "), _evidence(trace.approval)))
    else:
        out.append((1, f"Approval: {_approval_state(trace)}", _evidence(trace.approval)))
    history = ap.get("history") or []
    if history:
        out.append((2, f"Decisions up to {_day(trace.as_of) if trace.as_of else 'now'}:", ""))
    for index, decision in enumerate(history):
        systems = " + ".join(decision.get("systems") or [])
        current = " (in force)" if index == len(history) - 1 else ""
        out.append((3, f"{_day(decision.get('at'))}: {decision.get('status')} by {decision.get('approver')} ({systems}){current}", ""))
    for conflict in ap.get("conflicts") or []:
        said = "; ".join(f"{r.get('system')} says {r.get('approver') or r.get('status')}" for r in conflict.get("records", []))
        out.append((2, f"CONFLICT ({conflict.get('kind')}): {said}", ""))
    if findings:
        out += [(0, f"FINDING: {finding}", "") for finding in trace.findings]
    return out


_ALARM = ("GAP", "FINDING", "CONFLICT", "Approval: NOT")


def _alarming(text: str) -> bool:
    return text.startswith(_ALARM) or "(NOT APPROVED" in text


def _approval_state(trace: Trace) -> str:
    """``Approved 2027-03-08 09:42 UTC by risk-ops@company.com``, or plainly NOT APPROVED and why."""
    ap = trace.approval.value
    if trace.approval.gap:
        return "approval: GAP"
    if ap.get("approved", "approvedAt" in ap):
        return f"Approved {_day(ap.get('approvedAt'))} by {ap.get('approver')}"
    at = _day(trace.as_of) if trace.as_of else "now"
    if ap.get("status"):
        return f"NOT APPROVED at {at}: {ap['status']} since {_day(ap.get('decidedAt'))} by {ap.get('approver')}"
    return f"NOT APPROVED at {at}: no approval decision before it"


def _metrics(metrics: list[dict[str, Any]]) -> str:
    """Evaluation metrics first, then those a tracking server recorded (with where), then training's."""
    def values(kind: str) -> list[str]:
        return [f"{m['name']}={m['value']:g}" for m in metrics if m["kind"] == kind and isinstance(m.get("value"), int | float)]

    text = " ".join(values("evaluation"))
    tracked = values("mlflow")
    if tracked:
        where = next((m.get("source") for m in metrics if m["kind"] == "mlflow"), None)
        text = f"{text} {' '.join(tracked)}".strip() + (f" ({where})" if where else "")
    text = text or "no evaluation metrics recorded"
    training = values("training")
    return text + (f" (training: {' '.join(training)})" if training else "")


def _snapshot(snap: dict[str, Any]) -> str:
    if snap.get("version"):
        return f"Feature group {snap['featureGroup']}, version {snap['version']} (content {snap['contentVersion']})"
    store = snap.get("offlineStore") or f"s3://{_s3(snap.get('dataset'))}"
    if snap.get("glueTable"):
        return f"Feature group {snap['featureGroup']} (Glue table {snap['glueTable']} = {store})"
    return f"Feature group {snap['featureGroup']} (offline store {store})"


def _s3(dataset: str | None) -> str:
    """``s3://credit:train/2027-W10`` (namespace:name) -> ``credit/train/2027-W10``."""
    namespace, _, name = (dataset or "").rpartition(":")
    return f"{namespace.removeprefix('s3://')}/{name}"


def _hp_order(key: str) -> tuple[int, str]:
    preferred = ["max_depth", "eta", "num_round", "objective"]
    return (preferred.index(key) if key in preferred else len(preferred), key)


def to_tree(trace: Trace, *, evidence: bool = False) -> Tree:
    rows = lines(trace)
    root = Tree(escape(rows[0][1]))
    stack = [root]
    for depth, text, ev in rows[1:]:
        while len(stack) > depth + 1:
            stack.pop()
        parent = stack[depth] if depth < len(stack) else stack[-1]
        label = f"[red]{escape(text)}[/]" if _alarming(text) else escape(text)
        branch = parent.add(label + (f"\n[dim]{escape(ev)}[/]" if evidence and ev else ""))
        stack = stack[: depth + 1] + [branch]
    return root


def to_json(trace: Trace) -> str:
    return json.dumps(trace.to_dict(), indent=2, default=str)


def to_markdown(trace: Trace) -> str:
    out = ["# Model decision trace", "", f"Correct as of **{trace.as_of}**.", ""]
    for depth, text, ev in lines(trace, findings=False):
        out.append(f"{'  ' * depth}- {'**' + text + '**' if _alarming(text) else text}")
        if ev:
            out.append(f"{'  ' * (depth + 1)}- _evidence_: {ev}")
    out += ["", "## Findings", ""] + ([f"- {f}" for f in trace.findings] or ["- none"])
    out += ["", "## Gaps", ""] + ([f"- {g}" for g in trace.gaps] or ["- none"])
    return "\n".join(out) + "\n"


def to_pdf(trace: Trace, path: Path) -> Path:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()

    def style(depth: int, small: bool = False, alarm: bool = False) -> ParagraphStyle:
        base = styles["Heading3"] if depth == 0 and not small else styles["Normal"]
        return ParagraphStyle(
            f"d{depth}{'e' if small else ''}{'a' if alarm else ''}", parent=base, leftIndent=7 * mm * depth,
            fontSize=7 if small else base.fontSize, leading=9 if small else base.leading,
            textColor="#b00020" if alarm else "#555555" if small else base.textColor,
            spaceAfter=2 if small else base.spaceAfter,
        )

    story = [
        Paragraph("Model decision trace", styles["Title"]),
        Paragraph(escape(f"Correct as of {trace.as_of}. Generated by crossline from the records named as "
                         "evidence: OpenLineage events, SageMaker's lineage, registry and pipelines, endpoint data "
                         "capture, and where collected MLflow, the Glue Data Catalog, Feature Store and manual records."),
                  styles["Normal"]),
        Spacer(1, 6 * mm),
    ]
    for depth, text, ev in lines(trace, findings=False):
        story.append(Paragraph(escape(text), style(depth, alarm=_alarming(text))))
        if ev:
            story.append(Paragraph("evidence: " + escape(ev), style(depth + 1, small=True)))
    story += [Spacer(1, 6 * mm), Paragraph("Findings", styles["Heading2"])]
    finding = ParagraphStyle("finding", parent=styles["Normal"], textColor="#b00020")
    story += [Paragraph(escape(f), finding) for f in trace.findings] or [Paragraph("None.", styles["Normal"])]
    story += [Spacer(1, 4 * mm), Paragraph("Gaps", styles["Heading2"])]
    story += [Paragraph(escape(g), styles["Normal"]) for g in trace.gaps] or [Paragraph("None.", styles["Normal"])]
    path.parent.mkdir(parents=True, exist_ok=True)
    SimpleDocTemplate(str(path), pagesize=A4, title="crossline trace", leftMargin=18 * mm, rightMargin=18 * mm).build(story)
    return path


def write_all(trace: Trace, folder: Path, stem: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / f"{stem}.json", "markdown": folder / f"{stem}.md", "pdf": folder / f"{stem}.pdf"}
    paths["json"].write_text(to_json(trace))
    paths["markdown"].write_text(to_markdown(trace))
    to_pdf(trace, paths["pdf"])
    return paths
