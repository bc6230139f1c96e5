"""Dynamixel Protocol 2.0 (X-series: XL430-W250, XL330-M288/M077) and a virtual bus of servos on a
pseudo-terminal, the OMX's counterpart of :mod:`armtwin.hardware.feetech`.

* :mod:`.protocol`: constants, the X-series control table, the codec (CRC-16, byte stuffing,
  :func:`encode_instruction`, :func:`encode_status`, :class:`PacketParser`);
* :mod:`.servo`: :class:`Servo`, one X-series servo's control table over a physical joint;
* :mod:`.bus`: :class:`VirtualBus`, servos behind a pty that ``dynamixel_sdk`` and LeRobot's
  ``DynamixelMotorsBus`` drive unmodified.

Code inside armtwin imports from the submodules.
"""
