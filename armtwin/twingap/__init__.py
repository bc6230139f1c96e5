"""The twin gap: how far the twin's arm is from a real one, and the servo calibration that closes it.

- :mod:`.source`: a recording's joint trajectory and commands (a LeRobot v3 dataset of an SO-101, or an
  armtwin HDF5 recording through :mod:`armtwin.data`) as a :class:`~.source.Trajectory`.
- :mod:`.replay`: the commands replayed in the twin from the same initial joint state.
- :mod:`.metrics`: per-joint tracking error (RMS, max, lag) and its table.
- :mod:`.plot`: the real and simulated joints over time, a PNG drawn with Pillow.
- :mod:`.fit`: servo gains, damping and latency fitted to a recording (a calibration file the envs load).
- :mod:`.cli`: ``armtwin twin-gap``.
"""

from armtwin.twingap.fit import FitResult, fit_servo
from armtwin.twingap.metrics import JointGap, format_table, tracking_error
from armtwin.twingap.replay import replay
from armtwin.twingap.source import Trajectory, load_trajectory

__all__ = ["FitResult", "JointGap", "Trajectory", "fit_servo", "format_table", "load_trajectory", "replay",
           "tracking_error"]
