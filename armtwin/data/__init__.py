"""The recorded episode: the one owner of armtwin's recording format.

Every producer (teleop, the policy runner, MimicGen generation, the LeRobot -> HDF5 converter) writes
through :class:`Recorder`; every consumer (convert, mimic, replay, the virtual arm's scripts, inspect)
reads through :func:`open_recording` / :func:`load_episode` and validates with :func:`check_demo` /
:func:`scan_recordings`. No other module opens a recording with h5py.

- :mod:`~armtwin.data.schema`: the layout, demo naming and order, ``env_args``, ``datagen_info`` fields.
- :mod:`~armtwin.data.writer`: :class:`Recorder` (crash-safe, resumable), :mod:`~armtwin.data.recovery`.
- :mod:`~armtwin.data.reader`: :class:`Recording`, :class:`DemoView`, :class:`Episode`.
- :mod:`~armtwin.data.validate`, :mod:`~armtwin.data.inspect`, :mod:`~armtwin.data.subset` (merged or
  filtered copies).
"""

from armtwin.data.inspect import format_summary, summarize
from armtwin.data.reader import (
    DemoView, Episode, Recording, RecordingError, demo_names, load_episode, open_recording, read_env_args, read_fps,
)
from armtwin.data.schema import (
    ACTION_DIMS, DATAGEN_FIELDS, REQUIRED_KEYS, SOURCES, arm_datagen_row, datagen_row, demo_index, demo_key, demo_name,
    make_env_args, recorded_env, robot_of, sort_demo_names,
)
from armtwin.data.subset import RecordingEditor, edited_copy, write_subset
from armtwin.data.validate import (
    ACTIONS_ONLY, JOINT_LIMIT_MARGIN_RAD, EpisodeRef, RecordingScan, check_demo, check_joint_values, scan_recordings,
)
from armtwin.data.writer import COMPRESSIONS, Recorder, RecorderConfig, check_resumable

__all__ = [
    "ACTIONS_ONLY", "JOINT_LIMIT_MARGIN_RAD", "check_joint_values", "COMPRESSIONS", "DATAGEN_FIELDS", "REQUIRED_KEYS", "SOURCES", "DemoView", "Episode", "EpisodeRef", "Recorder",
    "RecorderConfig", "Recording", "RecordingError", "RecordingScan", "check_demo", "datagen_row", "demo_index",
    "RecordingEditor", "demo_key", "demo_name", "demo_names", "edited_copy", "format_summary", "load_episode", "make_env_args", "open_recording",
    "read_env_args", "read_fps", "scan_recordings", "sort_demo_names", "summarize", "write_subset",
    "arm_datagen_row", "check_resumable", "recorded_env", "robot_of", "ACTION_DIMS",
]
