"""SO-101 MuJoCo assets and the arm's constants (see README.md in this folder)."""
