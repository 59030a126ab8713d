"""The trace as people and machines read it: a terminal tree, JSON, Markdown and PDF.

Contract: each renderer takes a ``Trace`` and shows the same five answers, in the order
of SCENARIO.md, each line with its evidence; gaps are printed as gaps. ``to_json`` is
the machine form, documented by the JSON Schema ``collectors/schemas/1-0-0/Trace.json``
(its ``$id`` is the ``schema`` field).
``to_pdf`` writes a compliance-file PDF with reportlab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def lines(trace: Trace) -> list[tuple[int, str, str]]:
    """The trace as (depth, text, evidence) lines: the one layout every renderer follows."""
    s, mv, td, fe, tr, ap = trace.subject.value, trace.model_version.value, trace.training_dataset.value, trace.features.value, trace.training.value, trace.approval.value
    out: list[tuple[int, str, str]] = []
    if s.get("inferenceId"):
        out.append((0, f"Inference {s['inferenceId']} ({s.get('endpoint')} / {s.get('variant')}, {s.get('inferenceTime')})", _evidence(trace.subject)))
    if trace.model_version.gap:
        out.append((0, f"GAP: {trace.model_version.gap}", ""))
        return out
    approval = f"{ap.get('status')} {_day(ap.get('approvedAt'))} by {ap.get('approver')}" if not trace.approval.gap else "approval: GAP"
    out.append((0, f"ModelPackage {mv.get('group')}/{mv.get('version')} ({approval})", _evidence(trace.model_version)))
    if trace.training.gap and not tr:
        out.append((1, f"GAP: {trace.training.gap}", ""))
    else:
        out.append((1, f"Training job {tr.get('trainingJobName')} (ended {_day(tr.get('endedAt'))})", _evidence(trace.training)))
        hp = " ".join(f"{k}={v}" for k, v in sorted(tr.get("hyperparameters", {}).items(), key=lambda kv: _hp_order(kv[0])))
        out.append((2, f"hyperparameters: {hp or 'none recorded'}", ""))
        metrics = " ".join(f"{m['name']}={m['value']:g}" for m in tr.get("metrics", []) if m["kind"] == "evaluation")
        training_metrics = " ".join(f"{m['name']}={m['value']:g}" for m in tr.get("metrics", []) if m["kind"] == "training")
        out.append((2, f"metrics: {metrics or 'no evaluation metrics recorded'}" + (f" (training: {training_metrics})" if training_metrics else ""), ""))
        if trace.training_dataset.gap and not td:
            out.append((2, f"GAP: {trace.training_dataset.gap}", ""))
        else:
            out.append((2, f"Training dataset s3://{_s3(td.get('dataset'))} (version {td.get('version')})", _evidence(trace.training_dataset)))
            for snap in fe.get("featureSnapshots", []):
                out.append((3, f"Feature group {snap['featureGroup']}, version {snap['version']} (content {snap['contentVersion']})", _evidence(trace.features)))
            for other in fe.get("otherInputs", []):
                label = "Exclusion list" if "excl" in other["dataset"] else "Input"
                out.append((3, f"{label} s3://{_s3(other['dataset'])} (version {other['contentVersion']})", _evidence(trace.features)))
            if trace.features.gap:
                out.append((3, f"GAP: {trace.features.gap}", ""))
        for code in tr.get("code", []):
            out.append((2, f"Code commit {code['repo'].removeprefix('https://')} @ {code['commit']}", ""))
        if trace.training.gap:
            out.append((2, f"GAP: {trace.training.gap}", ""))
    if trace.approval.gap:
        out.append((1, f"GAP: {trace.approval.gap}", ""))
    else:
        out.append((1, f"Approval record {ap.get('approver')}, {_day(ap.get('approvedAt'))}: {ap.get('description') or ''}".rstrip(": "), _evidence(trace.approval)))
    return out


def _s3(dataset: str | None) -> str:
    """``s3://credit:train/2027-W10`` (namespace:name) -> ``credit/train/2027-W10``."""
    namespace, _, name = (dataset or "").rpartition(":")
    return f"{namespace.removeprefix('s3://')}/{name}"


def _hp_order(key: str) -> tuple[int, str]:
    preferred = ["max_depth", "eta", "num_round", "objective"]
    return (preferred.index(key) if key in preferred else len(preferred), key)


def to_tree(trace: Trace, *, evidence: bool = False) -> Tree:
    rows = lines(trace)
    root = Tree(rows[0][1])
    stack = [root]
    for depth, text, ev in rows[1:]:
        while len(stack) > depth + 1:
            stack.pop()
        parent = stack[depth] if depth < len(stack) else stack[-1]
        label = f"[red]{text}[/]" if text.startswith("GAP") else text
        branch = parent.add(label + (f"\n[dim]{ev}[/]" if evidence and ev else ""))
        stack = stack[: depth + 1] + [branch]
    return root


def to_json(trace: Trace) -> str:
    return json.dumps(trace.to_dict(), indent=2, default=str)


def to_markdown(trace: Trace) -> str:
    out = ["# Model decision trace", "", f"Correct as of **{trace.as_of}**.", ""]
    for depth, text, ev in lines(trace):
        out.append(f"{'  ' * depth}- {text}")
        if ev:
            out.append(f"{'  ' * (depth + 1)}- _evidence_: {ev}")
    out += ["", "## Gaps", ""] + ([f"- {g}" for g in trace.gaps] or ["- none"])
    return "\n".join(out) + "\n"


def to_pdf(trace: Trace, path: Path) -> Path:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()

    def style(depth: int, small: bool = False) -> ParagraphStyle:
        base = styles["Heading3"] if depth == 0 and not small else styles["Normal"]
        return ParagraphStyle(
            f"d{depth}{'e' if small else ''}", parent=base, leftIndent=7 * mm * depth,
            fontSize=7 if small else base.fontSize, leading=9 if small else base.leading,
            textColor="#555555" if small else base.textColor, spaceAfter=2 if small else base.spaceAfter,
        )

    story = [
        Paragraph("Model decision trace", styles["Title"]),
        Paragraph(escape(f"Correct as of {trace.as_of}. Generated by crossline from OpenLineage events, "
                         "SageMaker's lineage and registry, and endpoint data capture."), styles["Normal"]),
        Spacer(1, 6 * mm),
    ]
    for depth, text, ev in lines(trace):
        story.append(Paragraph(escape(text), style(depth)))
        if ev:
            story.append(Paragraph("evidence: " + escape(ev), style(depth + 1, small=True)))
    story += [Spacer(1, 6 * mm), Paragraph("Gaps", styles["Heading2"])]
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
