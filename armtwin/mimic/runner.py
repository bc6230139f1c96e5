"""Running a generation job: in-process, on a local process pool, or on a Ray cluster.

Bookkeeping (what makes merge and resume exact):

- Trial ``i`` uses the RNG of ``(seed, i)`` (:func:`armtwin.mimic.generate.trial_rng`), so its
  outcome does not depend on the worker count or order. Trials are dispatched in batches of
  consecutive indices.
- Every finished batch becomes one shard file ``<out>.shards/chunk_<first trial>.h5`` written to a
  temporary name and renamed: the kept demos (recorder layout, attrs ``trial_index`` ...) and the
  summary of every trial of the batch (``/mimic`` attr ``trials``, JSON). A kill loses at most the
  batches in flight. ``<out>.shards/job.json`` holds the job's fingerprint; a resume with a
  different job is refused.
- The run stops at the first trial index ``K`` such that trials ``0..K`` are all done and hold
  ``num`` successes (or ``max_failures`` failures); trials past ``K`` that finished anyway are
  ignored. The merged file holds the successes among ``0..K`` in trial order as ``demo_0..``, so
  the output is the same for 1 worker, 2 workers, Ray, or an interrupted-then-resumed run, with no
  episode lost or duplicated (a trial index appearing in two shards is kept once).
- ``<out>.stats.json``: attempts, successes, data-generation rate, failure reasons, demos per
  minute, timings. ``<out>`` and the stats are written atomically (temp + rename).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from armtwin.assets import so101_constants as C
from armtwin.mimic.annotate import MimicDataError, load_sources
from armtwin.mimic.generate import FAILURE_REASONS, GenerationJob, TrialResult, run_batch
from armtwin.mimic.spec import TaskSpec, get_task_spec

BACKENDS = ("inline", "pool", "ray")
RESET_DISTRIBUTIONS = ("D0", "D1")


@dataclass
class GenerateConfig:
    """One ``armtwin mimic generate`` run.

    source: annotated HDF5 (``armtwin mimic annotate``). env_id: Gymnasium id. num: successful demos
    wanted (>= 1). out: output ``.h5``/``.hdf5``. workers: local processes (1 runs in this process).
    ray_address: run on this Ray cluster instead of a local pool (an already initialised Ray in this
    process is used as is). seed: run seed (trial i uses (seed, i)). keep_failed: also write failed
    trials to ``<out stem>_failed.h5``. max_failures: stop after this many failed trials (default
    max(20, 10 * num)). reset_distribution: "D0" | "D1" (default: the source file's, else "D0").
    image_size: (H, W) of the re-rendered cameras of kept demos, None for no images. cameras: which.
    spec: the task spec (default :func:`get_task_spec(env_id)`). batch_size: trials per task.
    progress: show a tqdm bar. keep_shards: keep ``<out>.shards`` after merging. overwrite: replace an
    existing ``out`` that has no shards to resume from. max_steps: env step limit per trial
    (default: the env's). compression: HDF5 compression of the written demos.
    """

    source: str
    env_id: str
    num: int
    out: str
    workers: int = 1
    ray_address: str | None = None
    seed: int = 0
    keep_failed: bool = False
    max_failures: int | None = None
    reset_distribution: str | None = None
    image_size: tuple[int, int] | None = (128, 128)
    cameras: tuple[str, ...] = C.CAMERA_NAMES
    spec: TaskSpec | None = None
    batch_size: int = 2
    progress: bool = True
    keep_shards: bool = False
    overwrite: bool = False
    max_steps: int | None = None
    compression: str | None = "lzf"
    env_kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.out = str(self.out)
        if not self.out.endswith((".h5", ".hdf5")):
            raise ValueError(f"--out must end in .h5 or .hdf5, got {self.out!r}")
        if self.num < 1:
            raise ValueError(f"--num must be >= 1, got {self.num}")
        if self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_failures is not None and self.max_failures < 0:
            raise ValueError(f"--max-failures must be >= 0, got {self.max_failures}")
        if self.reset_distribution is not None and self.reset_distribution not in RESET_DISTRIBUTIONS:
            raise ValueError(f"unknown reset distribution {self.reset_distribution!r}; valid: "
                             f"{', '.join(RESET_DISTRIBUTIONS)}")
        unknown = [c for c in self.cameras if c not in C.CAMERA_NAMES]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; valid: {', '.join(C.CAMERA_NAMES)}")
        if self.image_size is not None:
            self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.spec is None:
            self.spec = get_task_spec(self.env_id)
        if self.spec.env_id != self.env_id:
            raise ValueError(f"spec is for {self.spec.env_id!r}, not {self.env_id!r}")

    @property
    def failure_limit(self) -> int:
        return self.max_failures if self.max_failures is not None else max(20, 10 * self.num)

    @property
    def backend(self) -> str:
        return "ray" if self.ray_address else ("pool" if self.workers > 1 else "inline")


# ---------------------------------------------------------------------------------------------
# job and shards


def _source_env_kwargs(path: str) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        raw = f["data"].attrs.get("env_args", "{}") if "data" in f else "{}"
    try:
        return dict(json.loads(raw).get("env_kwargs", {}) or {})
    except (TypeError, ValueError):
        return {}


def build_job(cfg: GenerateConfig) -> GenerationJob:
    """Load and validate the sources (MimicDataError on a malformed file) and build the job."""
    sources = load_sources(cfg.source, cfg.spec)
    src_kwargs = _source_env_kwargs(cfg.source)
    env_kwargs = {}
    # Only scene-defining kwargs carry over from the sources; cameras are the job's choice.
    for k in ("ctrl_dt", "sim_dt", "reset_distribution"):
        if k in src_kwargs:
            env_kwargs[k] = src_kwargs[k]
    env_kwargs.update(cfg.env_kwargs)
    if cfg.reset_distribution is not None:
        env_kwargs["reset_distribution"] = cfg.reset_distribution
    env_kwargs.setdefault("reset_distribution", "D0")
    return GenerationJob(env_id=cfg.env_id, spec=cfg.spec, sources=sources, seed=int(cfg.seed),
                         env_kwargs=env_kwargs, image_size=cfg.image_size, cameras=tuple(cfg.cameras),
                         keep_failed=cfg.keep_failed, max_steps=cfg.max_steps)


def shard_dir(out: str) -> Path:
    return Path(str(out) + ".shards")


def _env_args(job: GenerationJob) -> dict:
    kw = dict(job.env_kwargs)
    kw["image_size"] = list(job.image_size) if job.image_size is not None else None
    kw["cameras"] = list(job.cameras)
    return {"env_name": job.env_id, "type": "armtwin", "env_kwargs": kw}


def _demo_attrs(job: GenerationJob, r: TrialResult) -> dict:
    return {
        "mimic_generated": True,
        "src_demo_inds": np.asarray(r.src_demo_inds, dtype=np.int64),
        "src_demo_names": json.dumps([job.sources[i].name for i in r.src_demo_inds]),
        "trial_index": int(r.trial_index),
        "mimic_seed": int(job.seed),
        "failure_reason": r.reason or "",
    }


def _write_episodes(path: Path, job: GenerationJob, results: list[TrialResult], *, compression, fps: float,
                    extra_attrs: dict | None = None) -> None:
    """Write ``results`` (those with an episode) to ``path`` atomically, one demo each, in list order."""
    import h5py

    from armtwin.teleop.recorder import Recorder, RecorderConfig

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    if tmp.exists():
        tmp.unlink()
    try:
        rec = Recorder(RecorderConfig(tmp, flush_every=1 << 30, compression=compression, env_args=_env_args(job),
                                      fps=fps))
        with rec:
            for r in results:
                ep = r.episode
                if ep is None:
                    continue
                rec.begin_episode(seed=r.reset_seed, instruction=r.instruction, source="sim",
                                  attrs=_demo_attrs(job, r))
                T = ep["actions"].shape[0]
                for t in range(T):
                    rec.add_step(_index_tree(ep["obs"], t), ep["actions"][t], state=ep["states"][t],
                                 datagen_info=_index_tree(ep["datagen_info"], t), timestamp=float(ep["timestamps"][t]))
                rec.end_episode(success=r.success)
        with h5py.File(tmp, "r+") as f:
            g = f.require_group("mimic")
            g.attrs["job_fingerprint"] = job.fingerprint()
            for k, v in (extra_attrs or {}).items():
                g.attrs[k] = v
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _index_tree(tree: dict, t: int) -> dict:
    return {k: (_index_tree(v, t) if isinstance(v, dict) else v[t]) for k, v in tree.items()}


def write_shard(sdir: Path, job: GenerationJob, results: list[TrialResult], *, compression, fps) -> Path:
    """One shard file for a finished batch: its kept episodes and every trial's summary."""
    first = min(r.trial_index for r in results)
    path = sdir / f"chunk_{first:09d}.h5"
    _write_episodes(path, job, results, compression=compression, fps=fps,
                    extra_attrs={"trials": json.dumps([r.summary() for r in results])})
    return path


def scan_shards(sdir: Path, fingerprint: str) -> tuple[dict[int, dict], dict[int, tuple[Path, str]]]:
    """Trials already done: ({trial_index: summary}, {trial_index: (shard path, demo name)}).

    A trial index found twice (e.g. a Ray task retried) is kept once. Shards of another job raise.
    """
    import h5py

    trials: dict[int, dict] = {}
    demos: dict[int, tuple[Path, str]] = {}
    if not sdir.is_dir():
        return trials, demos
    for p in sorted(sdir.glob("chunk_*.h5")):
        with h5py.File(p, "r") as f:
            fp = f["mimic"].attrs.get("job_fingerprint") if "mimic" in f else None
            if fp != fingerprint:
                raise MimicDataError(f"{p} belongs to a different generation job (fingerprint {fp} != "
                                     f"{fingerprint}); remove {sdir} or choose another --out")
            for s in json.loads(f["mimic"].attrs["trials"]):
                trials.setdefault(int(s["trial_index"]), s)
            for name in f["data"]:
                ti = int(f["data"][name].attrs["trial_index"])
                demos.setdefault(ti, (p, name))
    return trials, demos


@dataclass
class _Prefix:
    status: str  # "running" | "num_reached" | "max_failures"
    last: int  # last trial index of the complete prefix (-1 if none)
    successes: list[int]
    failures: list[int]


def scan_prefix(trials: dict[int, dict], num: int, failure_limit: int) -> _Prefix:
    succ, fail = [], []
    i = 0
    while i in trials:
        if trials[i]["success"]:
            succ.append(i)
            if len(succ) >= num:
                return _Prefix("num_reached", i, succ, fail)
        else:
            fail.append(i)
            if len(fail) >= failure_limit:
                return _Prefix("max_failures", i, succ, fail)
        i += 1
    return _Prefix("running", i - 1, succ, fail)


# ---------------------------------------------------------------------------------------------
# executors


class _Inline:
    def __init__(self, job):
        self.job = job
        self._queue = []

    def submit(self, indices):
        self._queue.append(indices)

    def wait_one(self):
        indices = self._queue.pop(0)
        return indices, run_batch(self.job, indices)

    @property
    def in_flight(self):
        return sum(len(q) for q in self._queue)

    def close(self):
        pass


_POOL_JOB = None


def _pool_init(job_bytes):
    global _POOL_JOB
    # Workers never need torch; keep them light and make rendering offscreen.
    os.environ.setdefault("MUJOCO_GL", "egl")
    _POOL_JOB = pickle.loads(job_bytes)


def _pool_run(indices):
    return run_batch(_POOL_JOB, indices)


class _Pool:
    def __init__(self, job, workers):
        import concurrent.futures as cf
        import multiprocessing as mp

        self._cf = cf
        # spawn: a fresh interpreter per worker, no inherited GL/thread state from the parent.
        self.ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                         initializer=_pool_init, initargs=(pickle.dumps(job),))
        self.futs = {}

    def submit(self, indices):
        self.futs[self.ex.submit(_pool_run, indices)] = indices

    def wait_one(self):
        done, _ = self._cf.wait(list(self.futs), return_when=self._cf.FIRST_COMPLETED)
        fut = min(done, key=lambda f: self.futs[f][0])
        indices = self.futs.pop(fut)
        return indices, fut.result()

    @property
    def in_flight(self):
        return sum(len(v) for v in self.futs.values())

    def close(self):
        for f in self.futs:
            f.cancel()
        self.ex.shutdown(wait=True, cancel_futures=True)


def _ray_run(job, indices):
    os.environ.setdefault("MUJOCO_GL", "egl")
    return run_batch(job, indices)


class _Ray:
    def __init__(self, job, address):
        import ray

        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False,
                     runtime_env={"env_vars": {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}})
            self._owns = True
        else:
            self._owns = False
        self.remote = ray.remote(num_cpus=1, max_retries=2)(_ray_run)
        self.job_ref = ray.put(job)
        self.refs = {}

    def submit(self, indices):
        self.refs[self.remote.remote(self.job_ref, indices)] = indices

    def wait_one(self):
        ready, _ = self.ray.wait(list(self.refs), num_returns=1)
        ref = ready[0]
        indices = self.refs.pop(ref)
        return indices, self.ray.get(ref)

    @property
    def in_flight(self):
        return sum(len(v) for v in self.refs.values())

    def parallelism(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def close(self):
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        self.refs.clear()
        if self._owns:
            self.ray.shutdown()


# ---------------------------------------------------------------------------------------------
# the run


def run_generate(cfg: GenerateConfig) -> dict:
    """Run (or resume) a generation job; writes ``cfg.out`` and ``<out>.stats.json``; returns the stats."""
    t_start = time.perf_counter()
    job = build_job(cfg)
    fingerprint = job.fingerprint()
    out = Path(cfg.out)
    sdir = shard_dir(cfg.out)
    if out.exists() and not sdir.exists() and not cfg.overwrite:
        raise FileExistsError(f"{out} exists and there are no shards to resume ({sdir}); pass --overwrite "
                              f"to replace it or choose another --out")
    sdir.mkdir(parents=True, exist_ok=True)
    manifest = sdir / "job.json"
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old.get("fingerprint") != fingerprint:
            raise MimicDataError(f"{sdir} holds shards of a different job (env {old.get('env_id')}, seed "
                                 f"{old.get('seed')}, source {old.get('source')}); remove it or choose another --out")
    else:
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "env_id": cfg.env_id, "seed": cfg.seed,
                                   "source": os.path.abspath(cfg.source)}))
        os.replace(tmp, manifest)

    trials, _ = scan_shards(sdir, fingerprint)
    resumed = len(trials)
    fps = 1.0 / float(job.env_kwargs.get("ctrl_dt", C.CTRL_DT))
    limit = cfg.failure_limit

    if cfg.backend == "ray":
        ex = _Ray(job, cfg.ray_address)
        parallel = ex.parallelism()
    elif cfg.backend == "pool":
        ex = _Pool(job, cfg.workers)
        parallel = cfg.workers
    else:
        ex = _Inline(job)
        parallel = 1

    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.num, unit="demo", desc=f"mimic {cfg.env_id.split('/')[-1]}", file=sys.stderr,
                   dynamic_ncols=True)
    executed: list[dict] = []
    next_index = 0
    try:
        prefix = scan_prefix(trials, cfg.num, limit)
        if bar is not None:
            bar.update(min(len(prefix.successes), cfg.num))
        while prefix.status == "running":
            done_succ = sum(1 for s in trials.values() if s["success"])
            done_fail = len(trials) - done_succ
            rate = (done_succ + 1) / (len(trials) + 2)  # Laplace: never 0, so we keep dispatching
            # Dispatch consecutive pending indices while the expected successes fall short; with
            # nothing in flight the prefix has a gap that must be filled, so always dispatch then.
            while ex.in_flight < 2 * parallel * cfg.batch_size:
                expected = done_succ + rate * ex.in_flight
                if ex.in_flight > 0 and (expected >= cfg.num or done_fail >= limit):
                    break
                batch = []
                while len(batch) < cfg.batch_size:
                    if next_index not in trials:
                        batch.append(next_index)
                    next_index += 1
                ex.submit(batch)
            indices, results = ex.wait_one()
            write_shard(sdir, job, results, compression=cfg.compression, fps=fps)
            for r in results:
                s = r.summary()
                trials.setdefault(r.trial_index, s)
                executed.append(s)
            prefix = scan_prefix(trials, cfg.num, limit)
            if bar is not None:
                n_ok = min(len(prefix.successes), cfg.num)
                if n_ok > bar.n:
                    bar.update(n_ok - bar.n)  # update() (not n=) keeps tqdm's rate and ETA estimates
                att = len(trials)
                ok_all = sum(1 for s in trials.values() if s["success"])
                bar.set_postfix(attempts=att, success=f"{ok_all / max(att, 1):.0%}", refresh=False)
                bar.refresh()
    finally:
        ex.close()
        if bar is not None:
            bar.close()

    stats = _merge_and_stats(cfg, job, sdir, prefix, executed, resumed, time.perf_counter() - t_start, fps)
    if not cfg.keep_shards:
        shutil.rmtree(sdir, ignore_errors=True)
    return stats


def _merge_and_stats(cfg, job, sdir, prefix: _Prefix, executed, resumed, wall, fps) -> dict:
    import h5py

    trials, demos = scan_shards(sdir, job.fingerprint())
    keep = prefix.successes[: cfg.num]
    missing = [i for i in keep if i not in demos]
    if missing:
        raise RuntimeError(f"successful trials {missing} have no stored episode in {sdir}")
    out = Path(cfg.out)
    _copy_demos(out, job, [demos[i] for i in keep], fps, cfg)
    if cfg.keep_failed:
        failed_out = out.with_name(out.stem + "_failed" + out.suffix)
        _copy_demos(failed_out, job, [demos[i] for i in prefix.failures if i in demos], fps, cfg)

    considered = [trials[i] for i in range(prefix.last + 1)]
    n_att = len(considered)
    n_ok = sum(1 for s in considered if s["success"])
    reasons = Counter(s["reason"] for s in considered if not s["success"])
    kept_set = set(keep)
    new_ok = sum(1 for s in executed if s["success"] and int(s["trial_index"]) in kept_set)
    stats = {
        "env_id": cfg.env_id,
        "source": os.path.abspath(cfg.source),
        "out": str(out),
        "seed": int(cfg.seed),
        "reset_distribution": job.env_kwargs.get("reset_distribution"),
        "backend": cfg.backend,
        "workers": cfg.workers,
        "num_requested": cfg.num,
        "stopped_by": prefix.status,
        "attempts": n_att,
        "successes": n_ok,
        "kept": len(keep),
        "data_generation_rate": n_ok / n_att if n_att else 0.0,
        "failures": {r: int(reasons.get(r, 0)) for r in FAILURE_REASONS},
        "trials_executed_this_run": len(executed),
        "trials_resumed": resumed,
        "successes_this_run": new_ok,
        "wall_seconds": wall,
        "demos_per_minute": new_ok / (wall / 60.0) if wall > 0 else 0.0,
        "mean_steps": float(np.mean([s["num_steps"] for s in considered])) if considered else 0.0,
        "physics_seconds": float(sum(s["seconds_physics"] for s in executed)),
        "render_seconds": float(sum(s["seconds_render"] for s in executed)),
        "image_size": list(job.image_size) if job.image_size else None,
        "cameras": list(job.cameras),
        "trial_indices": keep,
    }
    stats_path = Path(str(out) + ".stats.json")
    tmp = stats_path.with_name(stats_path.name + ".tmp")
    tmp.write_text(json.dumps(stats, indent=2))
    os.replace(tmp, stats_path)
    return stats


def _copy_demos(out: Path, job: GenerationJob, refs: list[tuple[Path, str]], fps, cfg) -> None:
    """Copy demo groups from shards into a new ``out`` (atomically), renamed demo_0.. in order."""
    import h5py

    from armtwin.teleop.recorder import Recorder, RecorderConfig

    tmp = out.with_name(f".{out.stem}.{os.getpid()}.merge{out.suffix}")
    if tmp.exists():
        tmp.unlink()
    try:
        Recorder(RecorderConfig(tmp, env_args=_env_args(job), fps=fps)).close()
        with h5py.File(tmp, "r+") as f:
            data = f["data"]
            total = 0
            open_path, src = None, None
            try:
                for k, (p, name) in enumerate(refs):
                    if p != open_path:
                        if src is not None:
                            src.close()
                        src, open_path = h5py.File(p, "r"), p
                    src.copy(src["data"][name], data, name=f"demo_{k}")
                    total += int(data[f"demo_{k}"].attrs["num_samples"])
            finally:
                if src is not None:
                    src.close()
            data.attrs["total"] = total
            data.attrs["mimic"] = json.dumps({"env_id": job.env_id, "seed": job.seed, "spec": job.spec.to_dict(),
                                              "source": os.path.abspath(cfg.source),
                                              "source_demos": [s.name for s in job.sources]})
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def format_stats(stats: dict) -> str:
    """The end-of-run table."""
    rows = [
        ("env", stats["env_id"]),
        ("reset distribution", str(stats["reset_distribution"])),
        ("backend / workers", f"{stats['backend']} / {stats['workers']}"),
        ("attempts", str(stats["attempts"])),
        ("successes (kept)", f"{stats['successes']} ({stats['kept']})"),
        ("data-generation rate", f"{100 * stats['data_generation_rate']:.1f}%"),
        ("successful demos / min", f"{stats['demos_per_minute']:.1f}"),
        ("wall time", f"{stats['wall_seconds']:.1f} s"),
        ("trials this run / resumed", f"{stats['trials_executed_this_run']} / {stats['trials_resumed']}"),
    ]
    for r, n in stats["failures"].items():
        rows.append((f"failed: {r}", str(n)))
    w = max(len(a) for a, _ in rows)
    return "\n".join(f"  {a:<{w}}  {b}" for a, b in rows)
