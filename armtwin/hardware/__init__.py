"""The hardware edge: a byte-exact virtual Feetech STS3215 bus and virtual SO-101 arms.

``armtwin.hardware.feetech`` holds the protocol codec, the servo register model
and :class:`~armtwin.hardware.feetech.VirtualBus` (six servos behind a
pseudo-terminal that LeRobot's ``FeetechMotorsBus`` drives unmodified).
``armtwin.hardware.plants`` moves the virtual servos (a NumPy servo model, the
MuJoCo twin, or a script for a leader), ``armtwin.hardware.virtual_arm``
assembles a virtual leader or follower arm with its LeRobot calibration file:
``VirtualArm`` serves from a thread of this process, ``RemoteVirtualArm`` from
its own process (use it next to heavy Python work: LeRobot allows a servo
~50 ms, and this process's GIL or a garbage-collector pass can take longer),
``armtwin virtual-arm`` from the command line.

NumPy only: nothing here imports LeRobot or torch.
"""
