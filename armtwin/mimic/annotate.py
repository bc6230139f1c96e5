"""Subtask annotation of recorded demos, and loading of annotated files as MimicGen sources.

An annotated file is the input HDF5 (docs/interfaces.md layout) with, per demo:

- attr ``subtask_boundaries``: (n_subtasks, 2) int64, ``[start, end)`` frame indices of each
  subtask; consecutive subtasks touch (end_i == start_{i+1}), the first starts at 0 and the last
  ends at ``num_samples``.
- attr ``subtask_objects``: JSON list of each subtask's reference object name (or null).
- attr ``subtask_signals``: JSON list of each subtask's end signal name (null for the last).

and on ``/data`` the attr ``mimic_annotation`` (JSON: env_id, method "auto" | "manual",
subtasks, and the demos left out with the reason).

Automatic boundaries follow MimicGen: subtask i ends just after the first 0->1 transition
of its end signal at or after the start of subtask i, i.e. ``end = t + 1`` where ``t`` is the
first frame with signal 1 preceded by 0. Demos whose signal never rises are reported and
left out of the output, never guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from armtwin.data import ACTIONS_ONLY, DemoView, RecordingError, check_demo, open_recording, write_subset
from armtwin.envs.registry import get_task_spec
from armtwin.envs.task_spec import TaskSpec
from armtwin.staging import check_output


class MimicDataError(ValueError):
    """A source or annotated HDF5 file does not have what MimicGen needs (the message says what)."""


@dataclass
class AnnotationReport:
    """What :func:`annotate_file` did: boundaries per annotated demo and the reasons for skipped ones."""

    env_id: str
    method: str
    boundaries: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"annotated {len(self.boundaries)} demo(s) ({self.method}) for {self.env_id}"]
        for name, b in self.boundaries.items():
            lines.append(f"  {name}: " + ", ".join(f"[{s},{e})" for s, e in b))
        if self.skipped:
            lines.append(f"left out {len(self.skipped)} demo(s):")
            for name, why in self.skipped.items():
                lines.append(f"  {name}: {why}")
        return "\n".join(lines)


def first_rise(signal: np.ndarray, start: int) -> int | None:
    """First frame t >= max(start, 1) with signal[t] == 1 and signal[t-1] == 0, or None."""
    s = (np.asarray(signal) > 0).astype(np.int8)
    rises = np.nonzero((s[1:] == 1) & (s[:-1] == 0))[0] + 1
    rises = rises[rises >= start]
    return int(rises[0]) if len(rises) else None


def auto_boundaries(signals: dict[str, np.ndarray], spec: TaskSpec, num_samples: int) -> list[tuple[int, int]]:
    """Subtask [start, end) frames from the subtask-term signals ((T,) int arrays keyed by name).

    Raises MimicDataError naming the signal that is missing or never rises after the previous subtask.
    """
    out = []
    start = 0
    for i, st in enumerate(spec.subtasks):
        if st.end_signal is None:
            end = num_samples
        else:
            if st.end_signal not in signals:
                raise MimicDataError(
                    f"subtask {i}: signal {st.end_signal!r} not recorded; recorded: {', '.join(sorted(signals)) or 'none'}"
                )
            t = first_rise(signals[st.end_signal], start)
            if t is None:
                sig = np.asarray(signals[st.end_signal])
                state = "is on from the first frame and never rises" if len(sig) and sig[0] > 0 and sig.min() > 0 \
                    else "never rises (0->1)"
                raise MimicDataError(f"subtask {i}: signal {st.end_signal!r} {state} at or after frame {start}")
            end = t + 1
        if end <= start or end > num_samples:
            raise MimicDataError(f"subtask {i}: empty or out-of-range segment [{start}, {end}) of {num_samples} frames")
        out.append((start, end))
        start = end
    return out


def parse_boundaries_arg(text: str) -> dict[str, list[int]]:
    """Parse ``"demo_0:45,120;demo_1:50,130"`` into {demo: [end frames]}.

    The numbers are the end frames (exclusive) of every subtask but the last, which ends at the
    demo's last frame; giving that last end too is allowed if it equals ``num_samples``.
    """
    out: dict[str, list[int]] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, nums = part.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"bad --boundaries entry {part!r}: expected 'demo_<i>:<end>,<end>,...'")
        try:
            ends = [int(x) for x in nums.split(",") if x.strip()]
        except ValueError:
            raise ValueError(f"bad --boundaries entry {part!r}: end frames must be integers") from None
        if name.strip() in out:
            raise ValueError(f"--boundaries names {name.strip()!r} twice")
        out[name.strip()] = ends
    if not out:
        raise ValueError("--boundaries is empty")
    return out


def manual_boundaries(ends: list[int], spec: TaskSpec, num_samples: int) -> list[tuple[int, int]]:
    n = len(spec.subtasks)
    if len(ends) == n and ends[-1] == num_samples:
        ends = ends[:-1]
    if len(ends) != n - 1:
        raise MimicDataError(f"expected {n - 1} end frame(s) (one per subtask but the last), got {len(ends)}: {ends}")
    full = list(ends) + [num_samples]
    out, start = [], 0
    for i, end in enumerate(full):
        if not (start < end <= num_samples):
            raise MimicDataError(
                f"subtask {i}: end frame {end} must be > {start} (the subtask start) and <= {num_samples}"
            )
        out.append((start, end))
        start = end
    return out


def _env_id_of(rec) -> str | None:
    try:
        return rec.env_id
    except RecordingError:
        return None


def _check(demo: DemoView) -> None:
    """The demo is one every reader accepts (``actions`` present, lengths agree, joint values within the
    arm's limits: :func:`armtwin.data.check_demo`); MimicDataError with its message otherwise."""
    try:
        check_demo(demo, required=ACTIONS_ONLY)
    except RecordingError as e:
        raise MimicDataError(str(e)) from None


def _read_signals(demo: DemoView) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in demo.tree("datagen_info/subtask_term_signals").items()}


class _ObjectResolver:
    """Each subtask's object for one demo: the spec's, or for a subtask with candidates the one the env
    names in the demo's scene (``subtask_objects``; the env is restored to the demo's initial state)."""

    def __init__(self, env_id: str, spec: TaskSpec):
        self.env_id, self.spec, self.env = env_id, spec, None

    def __call__(self, demo: DemoView) -> list:
        refs = [s.object_ref for s in self.spec.subtasks]
        if not any(s.per_episode for s in self.spec.subtasks):
            return refs
        if "initial_state" not in demo:
            raise MimicDataError(f"{self.env_id} names subtask objects per episode; the demo has no initial_state "
                                 "to find them from")
        if self.env is None:
            from armtwin import envs

            self.env = envs.make(self.env_id, image_size=None)
            self.env.reset(seed=0)
        u = self.env.unwrapped
        try:
            u.set_state(np.asarray(demo["initial_state"]))
        except ValueError as e:
            raise MimicDataError(f"initial_state does not fit {self.env_id}: {e}") from None
        return u.subtask_objects(self.spec)

    def close(self):
        if self.env is not None:
            self.env.close()


def annotate_file(
    in_path: str, out_path: str, *, boundaries: dict[str, list[int]] | None = None, env_id: str | None = None,
    overwrite: bool = False,
) -> AnnotationReport:
    """Write ``out_path``: ``in_path`` with subtask boundaries on every demo that could be annotated.

    ``boundaries=None`` annotates automatically from the recorded subtask signals; otherwise it maps
    demo names to end frames (see :func:`parse_boundaries_arg`) and every demo must be listed.
    ``env_id`` defaults to the file's ``env_args``. The output is written to a temporary path and
    renamed, so a failure leaves no partial file. An existing ``out_path`` is replaced only with
    ``overwrite``; OUT is never IN (:func:`armtwin.staging.check_output`, OutputError, a ValueError).
    Raises MimicDataError if nothing could be annotated, or naming the demo when one fails
    :func:`armtwin.data.check_demo` (e.g. has no ``actions``): nothing is written then.
    """
    check_output(out_path, [in_path], overwrite=overwrite, what="OUT")
    method = "auto" if boundaries is None else "manual"
    try:
        rec = open_recording(in_path)
    except RecordingError as e:
        raise MimicDataError(str(e)) from None
    with rec:
        env_id = env_id or _env_id_of(rec)
        if env_id is None:
            raise MimicDataError(f"{in_path}: /data has no env_args with env_name; pass the env id explicitly")
        spec = get_task_spec(env_id)
        demos = rec.demo_names
        if not demos:
            raise MimicDataError(f"{in_path}: /data holds no demos")
        if boundaries is not None:
            unknown = sorted(set(boundaries) - set(demos))
            if unknown:
                raise MimicDataError(f"--boundaries names demo(s) not in the file: {', '.join(unknown)}; "
                                     f"demos: {', '.join(demos)}")
        for demo in rec:  # a malformed demo fails the file (as it fails generation), it is not left out
            _check(demo)
        report = AnnotationReport(env_id=env_id, method=method)
        for name in rec.non_demo_groups():
            report.skipped[name] = "not a demo_<i> group"
        resolver = _ObjectResolver(env_id, spec)
        objects: dict[str, list] = {}
        for demo in rec:
            name = demo.name
            try:
                if boundaries is None:
                    report.boundaries[name] = auto_boundaries(_read_signals(demo), spec, demo.num_samples)
                elif name not in boundaries:
                    raise MimicDataError("not listed in --boundaries")
                else:
                    report.boundaries[name] = manual_boundaries(boundaries[name], spec, demo.num_samples)
                objects[name] = resolver(demo)
            except MimicDataError as e:
                report.boundaries.pop(name, None)
                report.skipped[name] = str(e)
        resolver.close()
    if not report.boundaries:
        raise MimicDataError(f"{in_path}: no demo could be annotated:\n" + report.summary())
    signals = json.dumps([s.end_signal for s in spec.subtasks])
    write_subset(
        out_path, [(in_path, name) for name in report.boundaries], like=in_path, renumber=False,
        keep_other_groups=True,
        demo_attrs={name: {"subtask_boundaries": np.asarray(b, dtype=np.int64),
                           "subtask_objects": json.dumps(objects[name]), "subtask_signals": signals}
                    for name, b in report.boundaries.items()},
        data_attrs={"mimic_annotation": json.dumps({"env_id": env_id, "method": method, "subtasks": spec.subtask_pairs,
                                                    "skipped": report.skipped})},
    )
    return report


# ---------------------------------------------------------------------------------------------
# loading annotated sources for generation


@dataclass
class SourceDemo:
    """One annotated source demo, as generation needs it (all poses world frame, (T, 4, 4)).

    eef_pose: measured eef poses; target_pose: FK of the recorded actions; gripper_action (T,)
    radians; object_poses: {name: (T, 4, 4)} (every recorded object); boundaries: [(start, end), ...]
    per subtask; subtask_objects: each subtask's reference object in this demo.
    """

    name: str
    eef_pose: np.ndarray
    target_pose: np.ndarray
    gripper_action: np.ndarray
    object_poses: dict[str, np.ndarray]
    boundaries: list[tuple[int, int]]
    subtask_objects: list[str | None] = field(default_factory=list)

    @property
    def num_samples(self) -> int:
        return int(self.eef_pose.shape[0])


def load_sources(path: str, spec: TaskSpec) -> list[SourceDemo]:
    """Read and validate an annotated file against ``spec``.

    Raises MimicDataError saying exactly what is missing or inconsistent (no /data, a demo that fails
    :func:`armtwin.data.check_demo` (e.g. without ``actions``), a demo without ``subtask_boundaries``, a missing ``datagen_info`` dataset, wrong shapes, boundaries that do not
    tile the demo, subtask objects that differ from the spec).
    """
    try:
        rec = open_recording(path)
    except RecordingError as e:
        raise MimicDataError(str(e)) from None
    with rec:
        if not rec.demo_names:
            raise MimicDataError(f"{path}: /data holds no demos")
        want_objects = [s.object_ref for s in spec.subtasks]
        sources = []
        for g in rec:
            name, where, attrs = g.name, g.where, g.attrs
            _check(g)
            if "subtask_boundaries" not in attrs:
                raise MimicDataError(f"{where}: no 'subtask_boundaries' attr; annotate the file first "
                                     f"(armtwin mimic annotate IN.h5 OUT.h5 --auto)")
            need = ["datagen_info/eef_pose", "datagen_info/target_eef_pose", "datagen_info/gripper_action"]
            missing = [k for k in need if k not in g]
            if missing:
                raise MimicDataError(f"{where}: missing dataset(s) {', '.join(missing)}")
            objs_attr = json.loads(attrs["subtask_objects"]) if "subtask_objects" in attrs else None
            if objs_attr is None and any(s.per_episode for s in spec.subtasks):
                raise MimicDataError(f"{where}: no 'subtask_objects' attr; {spec.env_id} names its subtask objects "
                                     "per episode, annotate the file with armtwin mimic annotate")
            if objs_attr is not None:
                ok = isinstance(objs_attr, list) and len(objs_attr) == len(want_objects) and all(
                    s.accepts(o) for s, o in zip(spec.subtasks, objs_attr))
                if not ok:
                    raise MimicDataError(f"{where}: annotated subtask objects {objs_attr} differ from the spec of "
                                         f"{spec.env_id}: {want_objects}")
            demo_objects = objs_attr if objs_attr is not None else want_objects
            obj_keys = sorted({o for o in demo_objects if o is not None})
            missing = [f"datagen_info/object_poses/{o}" for o in obj_keys if f"datagen_info/object_poses/{o}" not in g]
            if missing:
                raise MimicDataError(f"{where}: missing dataset(s) {', '.join(missing)}")
            eef = np.asarray(g["datagen_info/eef_pose"], dtype=np.float64)
            T = eef.shape[0]
            tgt = np.asarray(g["datagen_info/target_eef_pose"], dtype=np.float64)
            raw_grip = np.asarray(g["datagen_info/gripper_action"], dtype=np.float64)
            if raw_grip.size != T:
                raise MimicDataError(f"{where}: datagen_info/gripper_action must have shape ({T}, 1), "
                                     f"got {raw_grip.shape}")
            grip = raw_grip.reshape(T)
            # every object's poses: nearest-neighbour selection compares the subtask's object per demo
            objs = {o: np.asarray(a, dtype=np.float64) for o, a in g.tree("datagen_info/object_poses").items()}
            for key, arr in [("eef_pose", eef), ("target_eef_pose", tgt)] + [(f"object_poses/{o}", a)
                                                                            for o, a in objs.items()]:
                if arr.shape != (T, 4, 4):
                    raise MimicDataError(f"{where}: datagen_info/{key} must have shape ({T}, 4, 4), got {arr.shape}")
                if not np.all(np.isfinite(arr)):
                    raise MimicDataError(f"{where}: datagen_info/{key} has non-finite values")
            b = np.asarray(attrs["subtask_boundaries"])
            if b.ndim != 2 or b.shape != (len(spec.subtasks), 2):
                raise MimicDataError(f"{where}: subtask_boundaries must have shape ({len(spec.subtasks)}, 2) for "
                                     f"{spec.env_id}, got {b.shape}")
            b = [(int(s), int(e)) for s, e in b]
            ok = b[0][0] == 0 and b[-1][1] == T and all(s < e for s, e in b) and \
                all(b[i][1] == b[i + 1][0] for i in range(len(b) - 1))
            if not ok:
                raise MimicDataError(f"{where}: subtask_boundaries {b} must tile [0, {T}) with non-empty segments")
            sources.append(SourceDemo(name, eef, tgt, grip, objs, b, list(demo_objects)))
    return sources
