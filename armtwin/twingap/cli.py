"""``armtwin twin-gap RECORDING [--fit]``: the twin's tracking error against a real recording, and the servo
calibration fitted to it.

``armtwin twin-gap REAL_DATASET [--episode I] [--out DIR] [--servo-calibration PATH]`` replays the
episode's commands in the twin from its first joint state and prints per joint RMS, max and lag of the
tracking error; writes ``DIR/twin_gap.png`` and ``DIR/twin_gap.json``. ``--fit`` also fits kp, kv, damping and
latency (:mod:`armtwin.twingap.fit`) and writes ``DIR/servo_calibration.json`` (or ``--calibration-out``),
which ``gym.make(id, servo_calibration=PATH)`` loads; the table is then shown for the fitted twin too.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(kw_only=True)
class TwinGapConfig:
    """recording: LeRobot v3 dataset folder or armtwin .h5. episode: index >= 0. out: output folder.
    fit: fit the servo model. servo_calibration: calibration to start from (and to compare). calibration:
    LeRobot calibration JSON of the arm (LeRobot datasets). use_degrees: LeRobot body-joint units.
    calibration_out: where --fit writes the calibration (default out/servo_calibration.json). overwrite:
    replace existing outputs (``out/twin_gap.json``, ``out/twin_gap.png``, the calibration); an output is
    never one of the inputs (:func:`armtwin.staging.check_output`)."""

    recording: Path
    episode: int = 0
    out: Path = Path("twin_gap")
    fit: bool = False
    servo_calibration: Path | None = None
    calibration: Path | None = None
    use_degrees: bool = True
    calibration_out: Path | None = None
    overwrite: bool = False

    def __post_init__(self):
        from armtwin.staging import check_output

        self.recording = Path(self.recording)
        if not self.recording.exists():
            raise ValueError(f"recording {self.recording} does not exist")
        if self.episode < 0:
            raise ValueError(f"episode must be >= 0, got {self.episode}")
        self.out = Path(self.out)
        # --out is a folder the outputs are added to (it may hold the inputs); each output file is checked.
        check_output(self.out, overwrite=True, kind="dir", what="--out")
        inputs = [self.recording, self.servo_calibration, self.calibration]
        outputs = [self.out / "twin_gap.json", self.out / "twin_gap.png"]
        for f in outputs:
            check_output(f, inputs, overwrite=self.overwrite, what="--out")
        if self.fit:
            what = "--calibration-out" if self.calibration_out is not None else "--out"
            self.calibration_out = check_output(self.calibration_out or self.out / "servo_calibration.json",
                                                [*inputs, *outputs], overwrite=self.overwrite, what=what)


def add_twin_gap(subparsers) -> None:
    p = subparsers.add_parser("twin-gap", help="measure (and fit) the twin's servo model against a real recording")
    p.add_argument("recording", type=Path, help="LeRobot v3 dataset folder or armtwin real-target .h5 recording")
    p.add_argument("--episode", type=int, default=0, help="episode index in the recording [0]")
    p.add_argument("--out", type=Path, default=Path("twin_gap"), help="output folder [twin_gap]")
    p.add_argument("--fit", action="store_true", help="fit kp, kv, damping and latency; write a servo calibration")
    p.add_argument("--servo-calibration", type=Path, default=None, help="servo calibration to start from")
    p.add_argument("--calibration", type=Path, default=None, help="LeRobot calibration JSON (LeRobot datasets)")
    p.add_argument("--range-units", action="store_true", help="LeRobot body joints in -100..100, not degrees")
    p.add_argument("--calibration-out", type=Path, default=None, help="where --fit writes the calibration")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=_run)


def _run(args) -> int:
    try:
        cfg = TwinGapConfig(recording=args.recording, episode=args.episode, out=args.out, fit=args.fit,
                            servo_calibration=args.servo_calibration, calibration=args.calibration,
                            use_degrees=not args.range_units, calibration_out=args.calibration_out,
                            overwrite=args.overwrite)
        report = run_twin_gap(cfg)
    except ValueError as e:
        print(f"armtwin twin-gap: {e}", file=sys.stderr)
        return 2
    print(report["table"])
    if "fit" in report:
        f = report["fit"]
        kp, kv, damping = f["factors"]
        print(f"\nfitted: kp x{kp:.3f}, kv x{kv:.3f}, damping x{damping:.3f}, latency {1000 * f['latency_s']:.1f} ms;"
              f" rms {f['rms_rad_before']:.5f} -> {f['rms_rad_after']:.5f} rad")
        print(report["table_fitted"])
        print(f"calibration: {report['calibration']}")
    print(f"plot: {report['plot']}")
    return 0


def run_twin_gap(cfg: TwinGapConfig) -> dict:
    """Do what ``armtwin twin-gap`` does; returns the report (also written to ``out/twin_gap.json``)."""
    from armtwin.envs.servo import ServoParams
    from armtwin.twingap.fit import fit_servo
    from armtwin.twingap.metrics import format_table, tracking_error
    from armtwin.twingap.plot import plot_png
    from armtwin.twingap.replay import ArmTwin
    from armtwin.twingap.source import load_trajectory

    traj = load_trajectory(cfg.recording, episode=cfg.episode, calibration=cfg.calibration,
                           use_degrees=cfg.use_degrees)
    start = ServoParams.load(cfg.servo_calibration) if cfg.servo_calibration else ServoParams()
    twin = ArmTwin(traj.dt)
    sim = twin.run(traj.q[0], traj.actions, start)
    gaps = tracking_error(traj.q, sim, traj.fps)
    cfg.out.mkdir(parents=True, exist_ok=True)
    report = {"recording": traj.label, "frames": len(traj), "fps": traj.fps, "joints": [asdict(g) for g in gaps],
              "table": format_table(gaps)}
    shown = sim
    if cfg.fit:
        res = fit_servo(traj, start=start)
        path = res.params.save(cfg.calibration_out)  # TwinGapConfig set it (default out/servo_calibration.json)
        shown = twin.run(traj.q[0], traj.actions, res.params)
        fitted_gaps = tracking_error(traj.q, shown, traj.fps)
        report.update(fit={"factors": list(res.factors), "latency_s": res.latency_s,
                           "rms_rad_before": res.rms_before, "rms_rad_after": res.rms_after,
                           "evaluations": res.evaluations},
                      joints_fitted=[asdict(g) for g in fitted_gaps], table_fitted=format_table(fitted_gaps),
                      calibration=str(path))
        gaps = fitted_gaps
    report["plot"] = str(plot_png(traj.q, shown, traj.fps, gaps, cfg.out / "twin_gap.png",
                                  title=("fitted twin" if cfg.fit else "twin") + f" vs {Path(traj.label).name}"))
    (cfg.out / "twin_gap.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
