"""Background jobs for the jobs page: a registry of kinds, each the same function the CLI calls.

A :class:`JobKind` names its parameters (:class:`Param`, shown as the page's form) and a ``run(params,
root)`` function that executes in a fresh (spawned) process: ``mimic generate`` ->
``armtwin.mimic.runner.run_generate``, ``convert lerobot`` -> ``armtwin.convert.lerobot_v3.export_lerobot``,
``hub push`` -> ``armtwin.convert.hub.push_dataset``, ``hub pull`` -> ``huggingface_hub.snapshot_download``
(and ``eval`` once the policy runner is on main: one more :func:`register` call). Progress comes from the
tqdm bars those functions already draw: in the child, ``tqdm.tqdm`` is replaced by a subclass that
sends ``n/total/rate/postfix`` to the parent instead of drawing. :class:`JobRunner` keeps the jobs,
their progress (rate, ETA, kept/failed), cancel (SIGTERM, then SIGKILL) and their outputs.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import queue as queue_mod
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Param:
    """One form field. kind: "str", "int", "float", "bool", "path" (relative to --root), "paths"
    (comma-separated), "choice" (one of ``choices``). required: no default."""

    name: str
    label: str
    kind: str = "str"
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()

    def parse(self, raw: Any, root: Path) -> Any:
        if raw in (None, ""):
            if self.required:
                raise ValueError(f"{self.label} ({self.name}) is required")
            return self.default
        if self.kind == "int":
            return int(raw)
        if self.kind == "float":
            return float(raw)
        if self.kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
        if self.kind == "path":
            return str(_under(root, raw))
        if self.kind == "paths":
            items = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",")]
            return [str(_under(root, s)) for s in items if s]
        if self.kind == "choice" and raw not in self.choices:
            raise ValueError(f"{self.label}: {raw!r} is not one of: {', '.join(self.choices)}")
        return str(raw)


def _under(root: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else root / q


@dataclass(frozen=True)
class JobKind:
    """name: registry key. run: ``(params dict, root Path) -> {"outputs": [paths], "summary": {...}}``, in the child."""

    name: str
    title: str
    params: tuple[Param, ...]
    run: Callable[[dict, Path], dict]

    def parse(self, raw: dict, root: Path) -> dict:
        unknown = sorted(set(raw) - {p.name for p in self.params})
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {unknown}; valid: {', '.join(p.name for p in self.params)}")
        return {p.name: p.parse(raw.get(p.name), root) for p in self.params}

    def describe(self) -> dict:
        return {"name": self.name, "title": self.title, "params": [
            {"name": p.name, "label": p.label, "kind": p.kind, "default": p.default, "required": p.required,
             "choices": list(p.choices)} for p in self.params]}


REGISTRY: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    REGISTRY[kind.name] = kind
    return kind


# ------------------------------------------------------------------ the job kinds (run in the child)


def _run_generate(p: dict, root: Path) -> dict:
    from armtwin.mimic.runner import GenerateConfig, run_generate

    size = None if p["image_size"] in (0, None) else (p["image_size"], p["image_size"])
    stats = run_generate(GenerateConfig(
        source=p["source"], env_id=p["env"], num=p["num"], out=p["out"], workers=p["workers"], seed=p["seed"],
        image_size=size, keep_failed=p["keep_failed"], overwrite=p["overwrite"], progress=True))
    outs = [stats["out"], f"{stats['out']}.stats.json"]
    summary = {k: stats[k] for k in ("kept", "attempts", "successes", "demos_per_minute", "stopped_by")}
    summary["failed"] = stats["attempts"] - stats["successes"]
    return {"outputs": outs, "summary": summary}


def _run_convert(p: dict, root: Path) -> dict:
    from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot

    res = export_lerobot(LeRobotExportConfig(
        inputs=tuple(Path(x) for x in p["inputs"]), repo_id=p["repo_id"], root=Path(p["root"]), vcodec=p["vcodec"],
        episodes=p["episodes"], overwrite=p["overwrite"], progress=True))
    return {"outputs": [str(res.root)], "summary": {"kept": res.episodes, "frames": res.frames,
                                                   "failed": len(res.skipped), "wall_s": res.wall_s}}


def _run_push(p: dict, root: Path) -> dict:
    from armtwin.convert.hub import push_dataset

    return {"outputs": [push_dataset(p["root"], p["repo_id"], private=p["private"])], "summary": {}}


def _run_pull(p: dict, root: Path) -> dict:
    from huggingface_hub import snapshot_download

    path = snapshot_download(p["repo_id"], repo_type="dataset", local_dir=p["root"], revision=p["revision"] or None)
    return {"outputs": [path], "summary": {}}


def _run_eval(p: dict, root: Path) -> dict:
    from armtwin.policy.eval import EvalConfig, run_eval, wilson_interval

    res = run_eval(EvalConfig(policy=p["policy"], env_id=p["env"], episodes=p["episodes"], out=p["out"],
                              dist=p["dist"], seed=p["seed"], workers=p["workers"], videos=p["videos"],
                              progress=True, print_table=False))
    lo, hi = wilson_interval(res.successes, len(res.outcomes))
    outs = [str(res.out / "eval_info.json"), str(res.out / "episodes.jsonl"), *res.video_paths]
    return {"outputs": outs, "summary": {"kept": res.successes, "failed": len(res.outcomes) - res.successes,
                                         "success_rate": res.success_rate, "ci95": [lo, hi], "eval_s": res.eval_s}}


register(JobKind("mimic_generate", "mimic generate", (
    Param("source", "annotated recording", "path", required=True),
    Param("env", "env id", "str", "armtwin/SO101-Lift-v0"),
    Param("num", "demos to keep", "int", 10),
    Param("out", "output .h5", "path", required=True),
    Param("workers", "workers", "int", 1),
    Param("seed", "seed", "int", 0),
    Param("image_size", "image size (px, 0: none)", "int", 128),
    Param("keep_failed", "keep failed trials", "bool", False),
    Param("overwrite", "overwrite", "bool", False),
), _run_generate))
register(JobKind("convert_lerobot", "convert lerobot", (
    Param("inputs", "HDF5 recordings (comma-separated)", "paths", required=True),
    Param("repo_id", "repo id", "str", "local/armtwin"),
    Param("root", "dataset folder", "path", required=True),
    Param("vcodec", "codec", "choice", "libsvtav1", choices=("libsvtav1", "h264", "hevc")),
    Param("episodes", "episodes", "choice", "success", choices=("success", "all")),
    Param("overwrite", "overwrite", "bool", False),
), _run_convert))
register(JobKind("eval", "evaluate a policy", (
    Param("policy", "pretrained policy folder", "path", required=True),
    Param("env", "env id", "str", "armtwin/SO101-Lift-v0"),
    Param("episodes", "episodes", "int", 20),
    Param("out", "output folder", "path", required=True),
    Param("dist", "reset distribution", "choice", "D0", choices=("D0", "D1")),
    Param("seed", "seed", "int", 0),
    Param("workers", "workers", "int", 1),
    Param("videos", "videos of the first N episodes", "int", 2),
), _run_eval))
register(JobKind("hub_push", "hub push", (
    Param("root", "dataset folder", "path", required=True),
    Param("repo_id", "repo id (USER/NAME)", "str", required=True),
    Param("private", "private", "bool", False),
), _run_push))
register(JobKind("hub_pull", "hub pull", (
    Param("repo_id", "repo id (USER/NAME)", "str", required=True),
    Param("root", "download to", "path", required=True),
    Param("revision", "revision", "str", ""),
), _run_pull))


# ------------------------------------------------------------------ the child process


def _install_progress(q) -> None:
    """Replace tqdm's bar by one that reports to the parent (the library code is unchanged)."""
    import tqdm as tqdm_mod

    base = tqdm_mod.tqdm

    class Reporting(base):
        def __init__(self, *a, **kw):
            kw.update(file=io.StringIO(), disable=False, mininterval=0.2)
            super().__init__(*a, **kw)

        def display(self, msg=None, pos=None):
            d = self.format_dict
            q.put(("progress", {"desc": d.get("prefix") or "", "n": d["n"], "total": d["total"], "rate": d["rate"],
                                "elapsed": d["elapsed"], "postfix": d.get("postfix") or "", "unit": d["unit"]}))
            return True

    tqdm_mod.tqdm = Reporting
    tqdm_mod.std.tqdm = Reporting
    import tqdm.auto

    tqdm.auto.tqdm = Reporting


def _child(kind_name: str, params: dict, root: str, q, studio_pid: int) -> None:
    import os
    import signal
    import sys

    from armtwin.lifeline import ORPHAN_EXIT, die_with_parent

    # A kill -9 of the studio tells nobody: without this watch the job would run on, orphaned (its own
    # encoders / mimic workers carry the same watch and follow it). The watch takes the parent at its
    # call; a studio killed while this process was still starting up is caught by the check after it.
    die_with_parent()
    if os.getppid() != studio_pid:
        os._exit(ORPHAN_EXIT)
    # Cancel sends SIGTERM: leave through SystemExit so finally blocks run and multiprocessing's exit
    # handler ends this job's own worker processes (encoders, mimic workers) with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _install_progress(q)
    try:
        q.put(("done", REGISTRY[kind_name].run(params, Path(root))))
    except BaseException as e:  # noqa: BLE001 - reported to the page
        q.put(("error", f"{type(e).__name__}: {e}", traceback.format_exc(limit=5)))


# ------------------------------------------------------------------ the parent's view


@dataclass
class Job:
    id: int
    kind: str
    params: dict
    state: str = "running"  # running | done | failed | cancelled
    started: float = field(default_factory=time.time)
    ended: float | None = None
    progress: dict = field(default_factory=dict)
    result: dict | None = None
    error: str | None = None
    detail: str | None = None

    def view(self) -> dict:
        p = dict(self.progress)
        n, total, rate = p.get("n"), p.get("total"), p.get("rate")
        p["eta_s"] = (total - n) / rate if (rate and total is not None and n is not None and total > n) else None
        post = _parse_postfix(p.get("postfix", ""))
        if "attempts" in post and "success" in post:
            att = int(post["attempts"])
            ok = round(att * float(post["success"].rstrip("%")) / 100.0)
            p["kept"], p["failed"] = n, att - ok
        return {"id": self.id, "kind": self.kind, "params": self.params, "state": self.state, "started": self.started,
                "ended": self.ended, "progress": p, "result": self.result, "error": self.error, "detail": self.detail}


def _parse_postfix(text: str) -> dict[str, str]:
    out = {}
    for part in str(text).split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            out[k] = v
    return out


class JobRunner:
    """``start(kind, raw params) -> Job``, ``cancel(id)``, ``jobs()``; one spawned process per job."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._jobs: dict[int, Job] = {}
        self._procs: dict[int, mp.Process] = {}
        self._next = 1
        self._lock = threading.Lock()
        # One thread at a time waits on a job's process: two concurrent waitpid() calls race, and the
        # loser reports a finished process as alive.
        self._wait_lock = threading.Lock()
        self._ctx = mp.get_context("spawn")  # the server has threads: never fork it

    def start(self, kind: str, raw: dict) -> Job:
        if kind not in REGISTRY:
            raise ValueError(f"unknown job {kind!r}; valid jobs: {', '.join(REGISTRY)}")
        params = REGISTRY[kind].parse(raw, self.root)
        q = self._ctx.Queue()
        with self._lock:
            job = Job(self._next, kind, params)
            self._next += 1
            self._jobs[job.id] = job
        # Not a daemon: the jobs start processes of their own (video encoders, mimic workers); the
        # runner's close() (the server's shutdown) cancels what is still running, and the child's
        # lifeline (armtwin.lifeline) ends it if the server is killed outright.
        proc = self._ctx.Process(target=_child, args=(kind, params, str(self.root), q, os.getpid()), daemon=False,
                                 name=f"armtwin-job-{job.id}")
        proc.start()
        self._procs[job.id] = proc
        threading.Thread(target=self._watch, args=(job, proc, q), daemon=True).start()
        return job

    def _watch(self, job: Job, proc, q) -> None:
        while True:
            try:
                msg = q.get(timeout=0.25)
            except queue_mod.Empty:
                with self._wait_lock:
                    alive = proc.is_alive()
                if not alive:
                    if job.state == "running":
                        job.state, job.error = "failed", f"the job's process exited (code {proc.exitcode})"
                        job.ended = time.time()
                    return
                continue
            if msg[0] == "progress":
                job.progress = msg[1]
            elif job.state == "cancelled":
                # a cancelled job's process may still report how terminate() ended it: it stays cancelled
                # (cancel() waits for the process)
                return
            elif msg[0] == "done":
                res = dict(msg[1])
                res["outputs"] = [self._relative(o) for o in res.get("outputs", [])]
                job.result, job.state, job.ended = res, "done", time.time()
            elif msg[0] == "error":
                job.error, job.detail, job.state, job.ended = msg[1], msg[2], "failed", time.time()
            if job.state != "running":
                with self._wait_lock:
                    proc.join(5)
                return

    def _relative(self, out: str) -> str:
        """An output under the root as a path relative to it (the pages link those), others unchanged."""
        p = Path(out)
        try:
            return str(p.resolve().relative_to(self.root.resolve()))
        except (ValueError, OSError):
            return out

    def cancel(self, job_id: int) -> Job:
        job = self.get(job_id)
        proc = self._procs.get(job_id)
        if job.state == "running" and proc is not None:
            job.state, job.ended = "cancelled", time.time()
            with self._wait_lock:
                proc.terminate()
                proc.join(3)
                if proc.is_alive():
                    proc.kill()
                    proc.join(3)
        return job

    def get(self, job_id: int) -> Job:
        if job_id not in self._jobs:
            raise KeyError(f"no job {job_id}; jobs: {sorted(self._jobs)}")
        return self._jobs[job_id]

    def jobs(self) -> list[dict]:
        return [j.view() for j in sorted(self._jobs.values(), key=lambda j: -j.id)]

    def close(self) -> None:
        for jid in list(self._procs):
            self.cancel(jid)


def _run_lerobot_filter(p: dict, root: Path) -> dict:
    """LeRobot's own ``delete_episodes``: a new dataset at ``out``, the original untouched."""
    from armtwin._optional import require

    require("lerobot", extra="lerobot", what="a filtered copy of a LeRobot dataset")
    from lerobot.datasets.dataset_tools import delete_episodes
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    src = Path(p["root"])
    drop = [int(x) for x in str(p["exclude"]).split(",") if x.strip()]
    ds = LeRobotDataset(f"local/{src.name}", root=src)
    delete_episodes(ds, drop, output_dir=p["out"], repo_id=f"local/{Path(p['out']).name}")
    return {"outputs": [p["out"]], "summary": {"kept": ds.meta.total_episodes - len(drop), "failed": 0}}


register(JobKind("lerobot_filter", "LeRobot filtered copy", (
    Param("root", "dataset folder", "path", required=True),
    Param("out", "new dataset folder", "path", required=True),
    Param("exclude", "episodes to drop (comma-separated indices)", "str", required=True),
), _run_lerobot_filter))
