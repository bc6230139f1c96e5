"""armtwin: a simulation-first digital twin of the SO-101 arm for imitation learning.

Importing this package (and ``armtwin.envs``) loads neither torch nor LeRobot:
those are imported by the commands that need them.
"""

__version__ = "0.1.0"
