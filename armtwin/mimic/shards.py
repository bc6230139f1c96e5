"""The shards of a generation run: one file per finished batch, the job manifest, the merge.

- Every finished batch becomes ``<out>.shards/chunk_<first trial>.h5`` (written through
  :class:`armtwin.data.Recorder` under a temporary name, then renamed): the kept demos (attrs
  ``trial_index`` ...) and the summary of every trial of the batch (``/mimic`` attr ``trials``, JSON).
- ``<out>.shards/job.json`` holds the job's fingerprint; a resume with a different job is refused.
- :func:`scan_prefix` finds the complete prefix of trials ``0..K``; :func:`merge_demos` writes its
  successes, in trial order, as ``demo_0..`` of ``<out>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from armtwin.data.schema import make_env_args
from armtwin.mimic.annotate import MimicDataError
from armtwin.mimic.generate import GenerationJob, TrialResult
from armtwin.staging import staged_file


def shard_dir(out: str) -> Path:
    return Path(str(out) + ".shards")


def _env_args(job: GenerationJob) -> dict:
    kw = dict(job.env_kwargs)
    kw["image_size"] = list(job.image_size) if job.image_size is not None else None
    kw["cameras"] = list(job.cameras)
    return make_env_args(job.env_id, kw)


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
    from armtwin.data import Recorder, RecorderConfig

    with staged_file(path, exists=False) as tmp, \
            Recorder(RecorderConfig(tmp, flush_every=1 << 30, compression=compression, env_args=_env_args(job),
                                    fps=fps)) as rec:
        for r in results:
            if r.episode is not None:
                rec.add_episode(r.episode, success=r.success, seed=r.reset_seed, instruction=r.instruction,
                                source="sim", attrs=_demo_attrs(job, r))
        rec.set_attrs("mimic", {"job_fingerprint": job.fingerprint(), **(extra_attrs or {})})


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
    from armtwin.data import open_recording

    trials: dict[int, dict] = {}
    demos: dict[int, tuple[Path, str]] = {}
    if not sdir.is_dir():
        return trials, demos
    for p in sorted(sdir.glob("chunk_*.h5")):
        with open_recording(p) as rec:
            meta = rec.group_attrs("mimic") or {}
            fp = meta.get("job_fingerprint")
            if fp != fingerprint:
                raise MimicDataError(f"{p} belongs to a different generation job (fingerprint {fp} != "
                                     f"{fingerprint}); remove {sdir} or choose another --out")
            for s in json.loads(meta["trials"]):
                trials.setdefault(int(s["trial_index"]), s)
            for view in rec:
                demos.setdefault(int(view.attrs["trial_index"]), (p, view.name))
    return trials, demos


@dataclass
class Prefix:
    status: str  # "running" | "num_reached" | "max_failures"
    last: int  # last trial index of the complete prefix (-1 if none)
    successes: list[int]
    failures: list[int]


def scan_prefix(trials: dict[int, dict], num: int, failure_limit: int) -> Prefix:
    succ, fail = [], []
    i = 0
    while i in trials:
        if trials[i]["success"]:
            succ.append(i)
            if len(succ) >= num:
                return Prefix("num_reached", i, succ, fail)
        else:
            fail.append(i)
            if len(fail) >= failure_limit:
                return Prefix("max_failures", i, succ, fail)
        i += 1
    return Prefix("running", i - 1, succ, fail)


def check_manifest(sdir: Path, job: GenerationJob, *, source: str) -> None:
    """Write ``sdir/job.json`` for a new run (or one whose directory holds no shard yet), or refuse
    shards that belong to another job."""
    fingerprint = job.fingerprint()
    manifest = sdir / "job.json"
    # A manifest without a single shard protects no work (a run that failed before its first batch
    # finished): the new job takes the directory over instead of being refused.
    if manifest.exists() and any(sdir.glob("chunk_*.h5")):
        old = json.loads(manifest.read_text())
        if old.get("fingerprint") != fingerprint:
            raise MimicDataError(f"{sdir} holds shards of a different job (env {old.get('env_id')}, seed "
                                 f"{old.get('seed')}, source {old.get('source')}); remove it or choose another --out")
        return
    with staged_file(manifest) as tmp:
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "env_id": job.env_id, "seed": job.seed,
                                   "source": os.path.abspath(source)}))


def merge_demos(out: Path, job: GenerationJob, refs: list[tuple[Path, str]], fps: float, *, source: str) -> None:
    """Copy demo groups from shards into a new ``out`` (atomically), renamed demo_0.. in order."""
    from armtwin.data import write_subset

    write_subset(out, refs, env_args=_env_args(job), fps=fps, renumber=True, data_attrs={
        "mimic": json.dumps({"env_id": job.env_id, "seed": job.seed, "spec": job.spec.to_dict(),
                             "source": os.path.abspath(source), "source_demos": [s.name for s in job.sources]}),
    })
