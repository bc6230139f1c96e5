"""Teleoperation and recording: one leader, one control loop, one recorder, a simulated or a real follower.

- ``armtwin.teleop.loop``: :class:`ControlLoop` (fixed rate, metrics, episode API), :class:`LoopConfig`.
- recording goes through ``armtwin.data`` (:class:`armtwin.data.Recorder`), the one owner of the episode format.
- ``armtwin.teleop.leaders``: keyboard, scripted expert and replay leaders (the SO-101 leader arm
  is ``armtwin.robots.real.RealLeader``).
- ``armtwin.teleop.net``: the UDP wire format, its publisher (``--publish``) and the network leader.
- ``armtwin.teleop.factory``: :func:`build_session` — the one place where ``--target sim|real`` matters
  (the follower itself comes from ``armtwin.robots.factory.make_follower``).
- ``armtwin.teleop.replay``: replay a sim recording and compare states.

Importing this package imports nothing heavy (no LeRobot, no torch, no MuJoCo).
"""
