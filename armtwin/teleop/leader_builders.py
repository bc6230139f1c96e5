"""The leaders of ``armtwin teleop`` (``--leader``), one builder each: ``LEADERS[kind](cfg, follower, side)``.

``cfg`` is the session's :class:`armtwin.teleop.factory.TeleopConfig`, ``follower`` the SafeFollower the
loop drives (None when only publishing: ``armtwin teleop --publish``), ``side`` its
:class:`armtwin.teleop.sides.EpisodeSide` (a leader speaks the follower's units, ``side.converter``;
sim-bound leaders use ``side.sim``). :func:`armtwin.teleop.factory.build_session` picks one; the leader
arms are the robots of :mod:`armtwin.robots.registry` (LeRobot's leader driver of each).
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

from armtwin.robots.registry import ROBOTS

class LeaderBuilder(Protocol):
    """Builds one leader kind: ``(cfg, follower, side) -> Leader`` (see the module docstring)."""

    def __call__(self, cfg, follower, side): ...


#: Leader arms are the robots of ``armtwin.robots.registry`` (LeRobot's leader driver of each).
ARM_LEADERS = tuple(ROBOTS)


def _arm_leader(cfg, follower, side):
    from armtwin.robots.real import RealLeader, RealLeaderConfig

    return RealLeader(
        RealLeaderConfig(port=cfg.port, id=cfg.leader_id, calibration_dir=cfg.leader_calibration_dir,
                         use_degrees=cfg.use_degrees, restore_calibration=cfg.restore_calibration, robot=cfg.leader)
    )


def _keyboard_leader(cfg, follower, side):
    from armtwin.teleop.leaders import KeyboardLeader, KeyboardLeaderConfig

    leader = KeyboardLeader(KeyboardLeaderConfig(use_degrees=cfg.use_degrees))
    leader.converter = side.converter  # speak the follower's units
    return leader


def _scripted_leader(cfg, follower, side):
    from armtwin.teleop.leaders import ExpertLeader

    # --resume: the noise goes on from the episode seeds the file stopped at, as the scenes do
    return ExpertLeader(side.sim, noise=cfg.expert_noise, seed=cfg.seed if cfg.resume_seed is None else cfg.resume_seed)


def _replay_leader(cfg, follower, side):
    from armtwin.teleop.leaders import ReplayLeader

    leader = ReplayLeader(cfg.replay, cfg.replay_demo, use_degrees=cfg.use_degrees)
    leader.converter = side.converter
    return leader


def _net_leader(cfg, follower, side):
    from armtwin.teleop.net import NetLeader, NetLeaderConfig

    return NetLeader(cfg.net_leader or NetLeaderConfig(listen=cfg.net_listen, wait_first_s=cfg.net_wait_s))


LEADERS: dict[str, Callable] = {
    **{arm: _arm_leader for arm in ARM_LEADERS},
    "keyboard": _keyboard_leader,
    "scripted": _scripted_leader,
    "replay": _replay_leader,
    "net": _net_leader,
}

#: Leader kinds whose builder an upper package passes to :func:`armtwin.teleop.factory.build_session`
#: (``builders=``), so that teleop does not import it: kind -> the module that owns the builder.
EXTERNAL_LEADERS: dict[str, str] = {"policy": "armtwin.policy.leader (POLICY_LEADERS)"}

#: Every leader kind a session config accepts: the arms of ``armtwin.robots.registry``, then keyboard,
#: scripted, replay, net, and the externally built ones (policy).
LEADER_KINDS = (*LEADERS, *EXTERNAL_LEADERS)
#: The leaders ``armtwin teleop`` and the studio's record page offer: a policy drives the follower
#: through ``armtwin run --policy PATH`` (which builds it, see EXTERNAL_LEADERS).
TELEOP_LEADER_KINDS = tuple(LEADERS)


def leader_builder(kind: str, builders: Mapping[str, LeaderBuilder] | None = None) -> LeaderBuilder:
    """The builder of leader ``kind``: teleop's own (LEADERS) or one of ``builders`` (an upper package's)."""
    table = {**LEADERS, **(builders or {})}
    if kind not in table:  # a kind teleop knows by name, built by an upper package
        raise ValueError(f"the {kind!r} leader is built by {EXTERNAL_LEADERS[kind]} and needs a follower to act on: "
                         f"drive it with armtwin run (or pass its builders to build_session / run_teleop, builders=)")
    return table[kind]
