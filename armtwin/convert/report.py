"""Plain-text summaries the convert commands print (nothing is dropped silently)."""

from __future__ import annotations


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("{:<" + str(w) + "}" for w in widths)
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line.format(*header), sep, *(line.format(*map(str, r)) for r in rows)])


def format_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def format_export(result) -> str:
    """Summary of an :class:`armtwin.convert.lerobot_v3.ExportResult`: per-file table, totals, skips."""
    rows = []
    for path, s in result.per_file.items():
        rows.append([path, s["in"], s["out"], s["in"] - s["out"], s["frames"], f"{s['frames'] / result.fps:.1f}"])
    rows.append(
        [
            "TOTAL",
            sum(s["in"] for s in result.per_file.values()),
            result.episodes,
            len(result.skipped),
            result.frames,
            f"{result.duration_s:.1f}",
        ]
    )
    out = [_table(["input", "episodes in", "episodes out", "skipped", "frames", "duration s"], rows)]
    out.append(
        f"dataset: {result.root}  ({format_size(result.size_bytes)}, {result.fps} fps, cameras: "
        f"{', '.join(result.cameras)}, tasks: {len(result.tasks)})"
    )
    rate = result.frames / result.wall_s if result.wall_s > 0 else float("inf")
    out.append(
        f"converted in {result.wall_s:.1f} s: {rate:.0f} frames/s, {result.duration_s / max(result.wall_s, 1e-9):.1f}x real time"
    )
    if result.skipped:
        out.append("skipped episodes:")
        out += [f"  {p}:{d}: {r}" for p, d, r in result.skipped]
    for n in result.notes:
        out.append(f"note: {n}")
    return "\n".join(out)


def format_error_table(per_episode: list[dict]) -> str:
    """Per-episode round-trip errors of ``armtwin convert actions`` (mm and degrees)."""
    rows = [
        [
            e["demo"],
            e["frames"],
            f"{e['eef_pos_err_mm_max']:.4f}",
            f"{e['eef_pos_err_mm_mean']:.4f}",
            f"{e['eef_rot_err_deg_max']:.4f}",
            f"{e['joint_err_deg_max']:.4f}",
            f"{e['joint_err_deg_mean']:.4f}",
        ]
        for e in per_episode
    ]
    return _table(
        ["demo", "frames", "eef pos max mm", "eef pos mean mm", "eef rot max deg", "joint max deg", "joint mean deg"],
        rows,
    )
