"""How fast the SO-101 twin (and the OMX's) simulates and renders, against Reacher-v5 measured in the same run.

Prints: raw physics steps/s (mj_step of the Lift scene), env steps/s without cameras (and the real-time
factor at ctrl_dt = 1/30 s), env steps/s with both cameras at 128x128, Reacher-v5 steps/s with
render_mode="rgb_array" at 128x128 (the peer), and the ratios. Goals: >= 200x real time without cameras,
>= 120 env steps/s with both cameras (>= 1.7x Reacher-v5's rendered rate).

With ``--robot`` naming more arms than the SO-101 (default: every arm of ``armtwin.assets.models``),
each further arm gets its own block after the SO-101's, measured in the same interleaved rounds: the
same rows for its tasks (physics of its Lift scene, every task without cameras, Lift and PickPlace with
both cameras at 128x128), their ratios to the same Reacher-v5 peer and to the SO-101's rows of the same
task. The SO-101 rows keep their meaning (SO-101 tasks only).

    MUJOCO_GL=egl python benchmarks/sim_speed.py [--seconds 2] [--rounds 3] [--robot so101,omx]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

import armtwin.envs as E  # noqa: E402
from armtwin.assets import so101_constants as C  # noqa: E402
from armtwin.assets.models import MODELS, robot_model  # noqa: E402

#: The tasks an arm other than the SO-101 is measured with cameras on (its block's rows).
CAMERA_TASKS = ("Lift", "PickPlace")


def _env_ids(robot: str) -> list[str]:
    """The registered env ids of ``robot``'s tasks, in registry order."""
    return [e for e in E.ENV_IDS if E.get_task(e).robot == robot]


def _task_id(robot: str, task: str) -> str:
    """The env id of ``task`` on ``robot`` (the registry's ``armtwin/<PREFIX>-<task>-v0``)."""
    for env_id in _env_ids(robot):
        if env_id.split("/", 1)[1].split("-", 1)[1] == f"{task}-v0":
            return env_id
    raise ValueError(f"robot {robot!r} has no {task} task; its env ids: {', '.join(_env_ids(robot))}")


def _actions(n: int, seed: int = 0, C=C) -> list[np.ndarray]:
    """n joint targets (6,) radians: a random walk from C.HOME_QPOS inside C's joint limits."""
    rng = np.random.default_rng(seed)
    q = np.array(C.HOME_QPOS)
    out = []
    for _ in range(n):
        q = np.clip(q + rng.normal(0, 0.03, 6), C.lower_limits(), C.upper_limits())
        out.append(q.astype(np.float32))
    return out


def _timed(fn, seconds: float) -> tuple[float, float]:
    """Calls of fn per wall-clock second and per second of this process's CPU time, over ~seconds.

    On a shared machine the CPU-time rate is what one free core would give (the software renderer's
    threads count towards CPU time too, so for camera runs it is a lower bound)."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0), n / max(time.process_time() - c0, 1e-9)


def physics_fn(env_id: str = "armtwin/SO101-Lift-v0"):
    """One call = 100 mj_step of env_id's scene (default the SO-101 Lift scene) with changing ctrl."""
    env = E.make(env_id, image_size=None).unwrapped
    env.reset(seed=0)
    m, d = env.model, env.data
    acts = _actions(1000, C=E.get_task(env_id).robot_constants())
    i = [0]

    def one():
        d.ctrl[:] = acts[i[0] % 1000]
        i[0] += 1
        mujoco.mj_step(m, d, nstep=100)

    return one, 100


def env_fn(env_id: str, image_size, **kwargs):
    """One call = one env step (through gymnasium.make's wrappers); kwargs: more EnvConfig fields."""
    env = E.make(env_id, image_size=image_size, **kwargs)
    env.reset(seed=0)
    acts = _actions(1000, C=E.get_task(env_id).robot_constants())
    i = [0]

    def one():
        _, _, _, trunc, _ = env.step(acts[i[0] % 1000])
        i[0] += 1
        if trunc:
            env.reset()

    return one, 1


def reacher_fn():
    """One call = one Reacher-v5 step plus its rgb_array render at 128x128."""
    env = gym.make("Reacher-v5", render_mode="rgb_array", width=128, height=128)
    env.reset(seed=0)

    renderer = env.unwrapped.mujoco_renderer

    def one():
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        # Gymnasium's offscreen viewer does not make its GL context current when it renders: with
        # other contexts in the process (ours) it would draw into theirs and look far too fast.
        renderer._get_viewer("rgb_array").make_context_current()
        env.render()
        if term or trunc:
            env.reset()

    return one, 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement and round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the machine may be shared)")
    ap.add_argument("--only-sim2real", action="store_true",
                    help="only the randomization and real-resolution rows (and the Lift rows they compare with)")
    ap.add_argument("--robot", default=",".join(MODELS),
                    help=f"comma-separated arms to measure ({', '.join(MODELS)}); the SO-101's rows and the "
                         f"Reacher-v5 peer are always measured [{','.join(MODELS)}]")
    args = ap.parse_args()
    others = [r for r in args.robot.split(",") if r and r != "so101"]
    for r in others:
        try:
            robot_model(r)
        except ValueError as e:
            ap.error(str(e))
    if args.only_sim2real:
        others = []
    items = {}
    if not args.only_sim2real:
        items["physics"] = physics_fn()
        for env_id in _env_ids("so101"):
            items[f"{env_id} no cameras"] = env_fn(env_id, None)
    items["Lift cameras"] = env_fn("armtwin/SO101-Lift-v0", (128, 128))
    # sim-to-real: randomization on (it changes model fields on reset only, so rendering should cost the
    # same) and recording at the real cameras' 640x480 with their specs
    for preset in ("visual", "all"):
        items[f"Lift cameras randomize={preset}"] = env_fn("armtwin/SO101-Lift-v0", (128, 128), randomize=preset)
    items["Lift cameras 640x480"] = env_fn("armtwin/SO101-Lift-v0", (480, 640))
    items["Lift cameras 640x480 so101 specs, all"] = env_fn(
        "armtwin/SO101-Lift-v0", (480, 640), front_camera="so101", wrist_camera="so101", randomize="all")
    if not args.only_sim2real:
        items["Sandwich cameras"] = env_fn("armtwin/SO101-Sandwich-v0", (128, 128))
        items["Reacher"] = reacher_fn()
    if others:
        # the SO-101 rows the other arms' camera rows are compared with, beyond Lift (measured above)
        for task in CAMERA_TASKS:
            if task != "Lift":
                items[f"{_task_id('so101', task)} cameras"] = env_fn(_task_id("so101", task), (128, 128))
    for robot in others:
        items[f"{robot} physics"] = physics_fn(_task_id(robot, "Lift"))
        for env_id in _env_ids(robot):
            items[f"{env_id} no cameras"] = env_fn(env_id, None)
        for task in CAMERA_TASKS:
            items[f"{_task_id(robot, task)} cameras"] = env_fn(_task_id(robot, task), (128, 128))
    wall: dict[str, list[float]] = {k: [] for k in items}
    cpu: dict[str, list[float]] = {k: [] for k in items}
    for fn, _ in items.values():
        fn()  # warm up (renderer creation, first contacts)
    # interleave the measurements so that load from other processes hits all of them alike
    for _ in range(args.rounds):
        for k, (fn, per_call) in items.items():
            w, c = _timed(fn, args.seconds / args.rounds)
            wall[k].append(per_call * w)
            cpu[k].append(per_call * c)
    W = {k: max(v) for k, v in wall.items()}
    P = {k: max(v) for k, v in cpu.items()}
    dt = C.CTRL_DT
    print(f"best of {args.rounds} interleaved rounds of {args.seconds / args.rounds:.1f} s each; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':44s} {'wall-clock rate':>18s} {'per CPU-second':>18s}")
    if not args.only_sim2real:
        _print_core(W, P, dt)
    print("sim-to-real (steps/s, wall / per CPU-second):")
    for k in [k for k in items if k.startswith("Lift cameras")]:
        print(f"  {k:42s} {W[k]:14,.1f} {P[k]:14,.1f}")
    for preset in ("visual", "all"):
        k = f"Lift cameras randomize={preset}"
        print(f"  ratio randomize={preset} / off = {W[k] / W['Lift cameras']:.3f} / {P[k] / P['Lift cameras']:.3f}"
              "   (goal >= 0.90)")
    for robot in others:
        _print_robot(robot, W, P)


def _print_robot(robot: str, W, P) -> None:
    """The block of an arm other than the SO-101: its rows, / Reacher-v5, / the SO-101's row of the same task."""
    RC = robot_model(robot).C
    dt = RC.CTRL_DT

    def so101(key: str):
        """The SO-101's item of the same task as ``key`` (an item of ``robot``), or None."""
        if key == f"{robot} physics":
            return "physics"
        env_id, _, rest = key.partition(" ")
        task = env_id.split("/", 1)[1].split("-", 1)[1].rsplit("-", 1)[0]
        try:
            k = f"{_task_id('so101', task)} {rest}"
        except ValueError:
            return None
        if k == "armtwin/SO101-Lift-v0 cameras":
            k = "Lift cameras"
        return k if k in W else None

    print(f"{robot} (steps/s, wall / per CPU-second; x SO-101: the SO-101's row of the same task, same run):")
    print(f"{'':44s} {'wall-clock rate':>18s} {'per CPU-second':>18s} {'x SO-101 (wall/CPU)':>20s}")
    keys = [f"{robot} physics"] + [f"{e} no cameras" for e in _env_ids(robot)]
    keys += [f"{_task_id(robot, t)} cameras" for t in CAMERA_TASKS]
    for k in keys:
        ref = so101(k)
        vs = f"{W[k] / W[ref]:.2f} / {P[k] / P[ref]:.2f}" if ref else "-"
        vs = f"{vs:>20s}"
        if k.endswith(" physics"):
            label, tail = f"physics, {robot} Lift scene (mj_step/s)", (
                f"   = {W[k] * RC.SIM_DT:.0f}x / {P[k] * RC.SIM_DT:.0f}x real time (sim_dt {RC.SIM_DT:.5f} s)")
        elif k.endswith(" no cameras"):
            label, tail = f"{k} (steps/s)", f"   = {W[k] * dt:.0f}x / {P[k] * dt:.0f}x real time"
        else:
            label, tail = f"{k.rsplit(' ', 1)[0].split('/', 1)[1]}, wrist+front 128x128 (steps/s)", ""
        fmt = ",.0f" if "cameras" not in k or "no cameras" in k else ",.1f"
        print(f"{label:44s} {W[k]:18{fmt}} {P[k]:18{fmt}} {vs}{tail}")
    slow_w = min(W[f"{e} no cameras"] for e in _env_ids(robot))
    slow_c = min(P[f"{e} no cameras"] for e in _env_ids(robot))
    print("ratios (wall / per CPU-second):")
    print(f"  slowest {robot} env without cameras / real time = {slow_w * dt:.0f}x / {slow_c * dt:.0f}x"
          "   (goal >= 200x)")
    for t in CAMERA_TASKS:
        k = f"{_task_id(robot, t)} cameras"
        print(f"  {robot} {t} with cameras / Reacher-v5{'':{max(0, 14 - len(t) - len(robot))}s} = "
              f"{W[k] / W['Reacher']:.2f}x / {P[k] / P['Reacher']:.2f}x   (goal >= 1.7x and >= 120 steps/s)")


def _print_core(W, P, dt) -> None:
    print(f"{'physics, Lift scene (mj_step/s)':44s} {W['physics']:18,.0f} {P['physics']:18,.0f}"
          f"   = {W['physics'] * C.SIM_DT:.0f}x / {P['physics'] * C.SIM_DT:.0f}x real time (sim_dt {C.SIM_DT:.5f} s)")
    for env_id in _env_ids("so101"):
        k = f"{env_id} no cameras"
        print(f"{k + ' (steps/s)':44s} {W[k]:18,.0f} {P[k]:18,.0f}   = {W[k] * dt:.0f}x / {P[k] * dt:.0f}x real time")
    for k, label in (("Lift cameras", "Lift, wrist+front 128x128 (steps/s)"),
                     ("Sandwich cameras", "Sandwich, wrist+front 128x128 (steps/s)"),
                     ("Reacher", "Reacher-v5 rgb_array 128x128 (steps/s)")):
        print(f"{label:44s} {W[k]:18,.1f} {P[k]:18,.1f}")
    slow_w = min(W[f"{e} no cameras"] for e in _env_ids("so101"))
    slow_c = min(P[f"{e} no cameras"] for e in _env_ids("so101"))
    print("ratios (wall / per CPU-second):")
    print(f"  slowest env without cameras / real time = {slow_w * dt:.0f}x / {slow_c * dt:.0f}x   (goal >= 200x)")
    print(f"  Lift with cameras / Reacher-v5          = {W['Lift cameras'] / W['Reacher']:.2f}x / "
          f"{P['Lift cameras'] / P['Reacher']:.2f}x   (goal >= 1.7x and >= 120 steps/s)")
    print(f"  Sandwich with cameras / Reacher-v5      = {W['Sandwich cameras'] / W['Reacher']:.2f}x / "
          f"{P['Sandwich cameras'] / P['Reacher']:.2f}x")


if __name__ == "__main__":
    main()
