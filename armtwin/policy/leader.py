"""The policy as a teleop leader: the builder a teleop session takes for ``--leader policy``.

teleop sits below this package (:mod:`armtwin.policy` drives the follower through teleop's loop), so
teleop does not import it; the caller that runs a policy (``armtwin run``,
:func:`armtwin.policy.run.run_policy`) passes :data:`POLICY_LEADERS` to
:func:`armtwin.teleop.factory.run_teleop` (``builders=``).
"""

from __future__ import annotations

def build_policy_leader(cfg, follower, side):
    """The ``--leader policy`` of a teleop session (a :class:`armtwin.teleop.leader_builders.LeaderBuilder`):
    a :class:`~armtwin.policy.source.PolicyLeader` over ``cfg.policy`` (local, or ``cfg.policy_server``),
    its inputs checked against ``follower``'s observation features and the arm's robot type before
    anything moves. On a simulated follower the env is connected here (the task text and the
    environment state's size need the built scene)."""
    from armtwin.policy.features import environment_state
    from armtwin.policy.local import policy_robot_type
    from armtwin.policy.source import PolicyLeader, make_backend

    sim = side.sim  # only a simulated follower knows where the objects are (None on a real arm)
    if sim is not None and not follower.is_connected:
        follower.connect()  # the task text and the environment state's size need the built scene
    leader = PolicyLeader(
        make_backend(cfg.policy, device=cfg.policy_device, policy_server=cfg.policy_server), task=side.instruction,
        environment_state=None if sim is None else (lambda: environment_state(sim.last_obs)),
        trained_on=policy_robot_type(cfg.policy),
    )
    # before anything moves; the arm's robot_type: a policy of another arm's data is refused
    leader.check(follower.observation_features, robot_type=side.converter.C.LEROBOT_ROBOT_TYPE)
    return leader


#: The leader kinds this package builds, for ``build_session(cfg, builders=POLICY_LEADERS)``.
POLICY_LEADERS = {"policy": build_policy_leader}
