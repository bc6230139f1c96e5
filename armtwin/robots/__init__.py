"""Followers and leaders behind one device contract (LeRobot's Robot/Teleoperator method names)."""
