"""What both sides share beyond the wire: pose maps, the reference-dance format, the lazy
CLI group and the machine description. Imports only :mod:`protocol` (checked by import-linter).

Not in :mod:`protocol`, which stays the wire contract alone: pose maps need OpenCV (the edge
extra), and a CLI helper or a machine description is not part of what travels between the
node and the cloud.
"""
