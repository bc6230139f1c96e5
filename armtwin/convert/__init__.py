"""Converters between armtwin HDF5 recordings and learning-ready datasets.

- :mod:`armtwin.convert.lerobot_v3`: HDF5 -> LeRobot v3.0 (``armtwin convert lerobot``)
- :mod:`armtwin.convert.to_hdf5`: LeRobot v3.0 -> HDF5 for replay on the sim (``armtwin convert hdf5``)
- :mod:`armtwin.convert.eef`: joint <-> end-effector actions (``armtwin convert actions``)
- :mod:`armtwin.convert.groot`: LeRobot v3.0 -> GR00T N1.5 layout (``armtwin convert groot``)
- :mod:`armtwin.convert.hub`: upload to the Hugging Face hub (``--push``)

Importing this package imports neither torch nor LeRobot; the converters import them when run.
"""
