"""The hardware edge: a byte-exact virtual Feetech STS3215 bus and virtual SO-101 arms.

``armtwin.hardware.feetech`` holds the protocol codec, the servo register model
and :class:`~armtwin.hardware.feetech.VirtualBus` (six servos behind a
pseudo-terminal that LeRobot's ``FeetechMotorsBus`` drives unmodified).
``armtwin.hardware.plants`` moves the virtual servos (a NumPy servo model or
the MuJoCo twin), ``armtwin.hardware.virtual_arm`` assembles a virtual leader
or follower arm with its LeRobot calibration file.

NumPy only: nothing here imports LeRobot or torch.
"""
