"""ROS 2 joint-state bridge: the SO-101 between MuJoCo and a ROS 2 graph, with or without rclpy.

* ``messages``: the ROS 2 types on the DDS wire (``sensor_msgs/msg/JointState``,
  ``trajectory_msgs/msg/JointTrajectory``), CDR codec, refusals (``MalformedMessage``).
* ``validate``: what arrives, checked: a JointState / JointTrajectory becomes a ``JointTarget`` /
  ``TrajectoryPlan`` over the arm's joints, or a ``MalformedMessage``.
* ``transport``: ``Backend`` with two implementations chosen at start-up: ``RclpyBackend`` (a
  sourced ROS 2 install) or ``CycloneBackend`` (a Cyclone DDS participant that speaks ROS 2's
  wire conventions).
* ``publisher`` / ``mirror`` / ``command`` / ``record``: the ``armtwin bridge publish | mirror |
  command | record`` commands (``cli.add_bridge``), each with its config dataclass; ``session``
  what they share (config checks, backend, signal flag, teardown), ``stream`` the receive loop.
* ``bag``: the rosbag2 (MCAP) writer and reader behind ``record`` and every ``--record``.

Units: JointState is radians, rad/s, N*m; followers speak LeRobot units, converted with
``armtwin.units.UnitConverter``. Joint names, topic and frame id come from
``armtwin.assets.so101_constants``. Importing this package imports nothing heavy.
"""
