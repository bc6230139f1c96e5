"""Where trials run: in this process, on a local process pool, or on a Ray cluster.

Each executor takes batches of trial indices (``submit``) and hands back finished batches
(``wait_one`` -> ``(indices, [TrialResult])``); workers build one :class:`~armtwin.mimic.generate.TrialRunner`
per job (:func:`~armtwin.mimic.generate.run_batch`). The job is sent pickled, once per pool worker or as
one Ray object: Ray and the pool unpickle what this process sent them, nothing else.

``make_executor(..., run=f)`` runs another kind of job the same way: ``f(job, indices) -> [result]``, a
module-level function (sent by reference); ``armtwin eval`` runs its episodes through it.
"""

from __future__ import annotations

import os
import pickle

from armtwin.mimic.generate import GenerationJob, run_batch

BACKENDS = ("inline", "pool", "ray")


class _Inline:
    def __init__(self, job, run=run_batch):
        self.job = job
        self.run = run
        self._queue = []

    def submit(self, indices):
        self._queue.append(indices)

    def wait_one(self):
        indices = self._queue.pop(0)
        return indices, self.run(self.job, indices)

    @property
    def in_flight(self):
        return sum(len(q) for q in self._queue)

    def close(self):
        pass


_POOL_JOB = None
_POOL_RUN = run_batch


def _pool_init(job_bytes, run=run_batch):
    global _POOL_JOB, _POOL_RUN
    from armtwin.lifeline import die_with_parent

    die_with_parent()  # a killed parent must not leave workers waiting forever
    # Generation workers never need torch; keep them light and make rendering offscreen.
    os.environ.setdefault("MUJOCO_GL", "egl")
    _POOL_JOB = pickle.loads(job_bytes)
    _POOL_RUN = run


def _pool_run(indices):
    return _POOL_RUN(_POOL_JOB, indices)


class _Pool:
    def __init__(self, job, workers, run=run_batch):
        import concurrent.futures as cf
        import multiprocessing as mp

        self._cf = cf
        # spawn: a fresh interpreter per worker, no inherited GL/thread state from the parent.
        self.ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                         initializer=_pool_init, initargs=(pickle.dumps(job), run))
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


def _ray_run(job, indices, run=run_batch):
    os.environ.setdefault("MUJOCO_GL", "egl")
    return run(job, indices)


class _Ray:
    def __init__(self, job, address, run=run_batch):
        from armtwin._optional import require

        require("ray", extra="cluster", what="running on a Ray cluster (--ray-address)")
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
        self.run = run
        self.refs = {}

    def submit(self, indices):
        self.refs[self.remote.remote(self.job_ref, indices, self.run)] = indices

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


def make_executor(job: GenerationJob, backend: str, *, workers: int = 1, ray_address: str | None = None,
                  run=run_batch):
    """The executor for ``backend`` (one of BACKENDS) and how many batches it runs at once.

    run: ``run(job, indices) -> [result]`` executed where the batch runs (default: MimicGen trials)."""
    if backend == "ray":
        ex = _Ray(job, ray_address, run)
        return ex, ex.parallelism()
    if backend == "pool":
        return _Pool(job, workers, run), workers
    if backend == "inline":
        return _Inline(job, run), 1
    raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
