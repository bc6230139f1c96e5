"""armtwin: a simulation-first digital twin of the SO-101 arm for imitation learning.

Importing this package (and ``armtwin.envs``) loads neither torch nor LeRobot:
those are imported by the commands that need them. It registers the Gymnasium ids
(``armtwin/SO101-...-v0``, see :mod:`armtwin.envs`), as ``gym_pusht`` does.
"""

__version__ = "0.1.0"

from armtwin import envs  # noqa: F401  registers the Gymnasium ids (string entry points, no MuJoCo)
