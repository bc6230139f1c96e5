"""MimicGen-style data augmentation: from a handful of demos to thousands, headless and in parallel.

Pipeline (``armtwin mimic ...``):

1. ``annotate IN.h5 OUT.h5 --auto | --boundaries "demo_0:45;..."`` (:mod:`.annotate`): split each
   recorded demo into object-centric subtasks, from the env's subtask signals (first 0->1 transition,
   MimicGen's convention) or by hand. Per demo the output carries ``subtask_boundaries``
   ((n_subtasks, 2) int64 [start, end) frames), ``subtask_objects`` and ``subtask_signals`` (JSON).
2. ``generate ANNOTATED.h5 --env ID --num N --out GEN.h5 [--workers K | --ray-address ADDR]``
   (:mod:`.generate` runs one trial, :mod:`.runner` schedules, shards, merges, resumes, reports):
   per new scene, pick a source segment per subtask (:mod:`.select`), re-attach its end-effector
   poses to the subtask object's new pose (:mod:`armtwin.poses`), interpolate from the last target, add
   noise, solve 5-DoF IK, execute, keep the episode only if the task succeeds, then re-render the
   kept ones from their saved states. Output demos carry ``mimic_generated``, ``src_demo_inds``,
   ``seed`` (the env reset seed), ``mimic_seed`` (the run seed) and ``trial_index``; the run writes
   ``GEN.h5.stats.json``.

The per-task settings are :mod:`armtwin.envs.task_spec`'s dataclasses; each task's own lives with its env
(``armtwin.envs.get_task_spec(env_id)``).
Importing this package loads neither MuJoCo nor torch.
"""
