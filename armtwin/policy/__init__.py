"""Policies as action sources: a LeRobot checkpoint drives the twin or the real arm.

* :mod:`armtwin.policy.features`: contract observation <-> LeRobot frame, and :func:`check_features`;
* :mod:`armtwin.policy.local`: :class:`LocalPolicy` (a LeRobot pretrained directory in this process);
* :mod:`armtwin.policy.source`: :class:`PolicyLeader` (a Leader) and the :class:`PolicyBackend` protocol;
  :mod:`armtwin.policy.leader`: its builder for a teleop session (``--leader policy``);
* :mod:`armtwin.policy.eval`: ``armtwin eval`` (headless, seeded, parallel); :mod:`armtwin.policy.run`:
  ``armtwin run`` (real time, sim or real follower). :mod:`armtwin.policy.cli`: both commands.

Importing this package loads neither torch nor LeRobot; :class:`LocalPolicy` does on first load.
"""
