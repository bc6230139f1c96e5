"""``armtwin inspect``: what a recording holds, as a dict and as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from armtwin.data.reader import Recording, RecordingError
from armtwin.data.schema import ACTION_DIMS
from armtwin.data.validate import check_demo


def summarize(path: str | Path) -> dict[str, Any]:
    """A recording's summary: file attrs, per-episode length/success/seed, dataset keys with shape and dtype.

    Returns ``{"path", "total", "env_args", "fps", "episodes": [{"name", "num_samples", "success", "seed",
    "source", "instruction", "error"}], "keys": {"actions": ((T, 6) of the first demo, dtype), ...},
    "incomplete": [{"name", "steps"}], "errors": {demo: message}}``. ``error`` is None for a demo every
    reader accepts, else :func:`~armtwin.data.validate.check_demo`'s message (e.g. no ``actions``): readers
    refuse such a demo, so it is flagged, not summarised silently. RecordingError when the file is not a
    recording.
    """
    with Recording(path) as rec:
        eps = []
        errors: dict[str, str] = {}
        space = str(rec.attrs.get("action_space", "joint"))
        dims = (ACTION_DIMS[space],) if space in ACTION_DIMS else tuple(ACTION_DIMS.values())
        for view in rec:
            a = view.attrs
            try:
                check_demo(view, action_dims=dims)  # an end-effector file's actions are (T, 8)
            except RecordingError as e:
                errors[view.name] = str(e)
            eps.append({
                "name": view.name,
                "num_samples": view.num_samples,
                "success": bool(a.get("success", False)),
                "seed": int(a.get("seed", -1)),
                "source": a.get("source", ""),
                "instruction": a.get("instruction", ""),
                "error": errors.get(view.name),
            })
        keys = rec.demo(eps[0]["name"]).datasets() if eps else {}
        fps = rec.fps
        return {
            "path": str(rec.path),
            "total": rec.total,
            "env_args": rec.env_args,
            "fps": float("nan") if fps is None else fps,
            "episodes": eps,
            "keys": keys,
            "incomplete": rec.incomplete(),
            "errors": errors,
        }


def format_summary(s: Mapping[str, Any]) -> str:
    """Human-readable text of :func:`summarize`'s result."""
    eps = s["episodes"]
    n_ok = sum(e["success"] for e in eps)
    env = s["env_args"].get("env_name", "?") if s["env_args"] else "?"
    lines = [
        f"{s['path']}",
        f"  env: {env}   fps: {s['fps']:g}   episodes: {len(eps)}   steps: {s['total']}   "
        f"success: {n_ok}/{len(eps)}",
    ]
    if eps:
        lens = np.array([e["num_samples"] for e in eps])
        lines.append(f"  length: min {lens.min()}  mean {lens.mean():.1f}  max {lens.max()}")
        lines.append("")
        lines.append(f"  {'episode':<12}{'steps':>7}  {'success':<8}{'seed':>6}  {'source':<7}instruction")
        for e in eps:
            lines.append(
                f"  {e['name']:<12}{e['num_samples']:>7}  {str(e['success']):<8}{e['seed']:>6}  "
                f"{e['source']:<7}{e['instruction']}"
            )
        lines.append("")
        lines.append(f"  keys ({eps[0]['name']}):")
        for k, (shape, dtype) in s["keys"].items():
            lines.append(f"    {k:<48}{str(shape):<22}{dtype}")
    if s.get("errors"):
        lines.append("")
        lines.append(f"  INVALID episodes ({len(s['errors'])}; every reader refuses them):")
        for name, msg in s["errors"].items():
            lines.append(f"    {name}: {msg}")
    if s["incomplete"]:
        lines.append("")
        lines.append("  interrupted episodes (not in /data):")
        for e in s["incomplete"]:
            steps = "unreadable" if e["steps"] < 0 else f"{e['steps']} flushed steps"
            lines.append(f"    /incomplete/{e['name']}: {steps}")
    return "\n".join(lines)
