"""Followers and leaders behind one device contract (LeRobot's Robot/Teleoperator method names).

- ``armtwin.robots.contract``: the contract (``Follower``, ``Leader`` with its hooks, ``LeaderExhausted``).
- ``armtwin.robots.factory``: ``make_follower(target, ...)``, the one place a follower is built.
- ``armtwin.robots.safety``: ``SafeFollower``, the safety layer every follower is driven through.
- ``armtwin.robots.sim`` / ``armtwin.robots.real``: the simulated SO-101 and LeRobot's real one.
- ``armtwin.robots.calibration``: where LeRobot keeps calibration files.
"""
