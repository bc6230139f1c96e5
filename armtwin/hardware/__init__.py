"""The hardware edge: a byte-exact virtual Feetech STS3215 bus and virtual SO-101 arms.

``armtwin.hardware.feetech`` is the virtual bus in three layers: ``protocol`` (packet codec,
checksums, control table), ``servo`` (one STS3215's register file over a joint position) and
``bus`` (:class:`~armtwin.hardware.feetech.bus.VirtualBus`: six servos behind a pseudo-terminal
that LeRobot's ``FeetechMotorsBus`` drives unmodified, with fault injection).
``armtwin.hardware.plants`` moves the virtual servos (a NumPy servo model, the MuJoCo twin, or a
script for a leader), ``armtwin.hardware.virtual_arm`` assembles a virtual leader or follower arm
with its LeRobot calibration file and serves it from a thread of this process (``VirtualArm``);
``armtwin.hardware.remote_arm`` serves the same arm from its own process (``RemoteVirtualArm``:
use it next to heavy Python work: LeRobot allows a servo ~50 ms, and this process's GIL or a
garbage-collector pass can take longer); ``armtwin virtual-arm`` runs one from the command line.

NumPy only: nothing here imports LeRobot or torch.
"""
