"""The live mirror: one node's dancer, re-rendered by the booth's generator as they move.

:mod:`~cloud.mirror.gate` checks the node's live keypoints, :mod:`~cloud.mirror.framing`
keeps the dancer framed, :mod:`~cloud.mirror.engine` draws and generates the newest
pose in its own thread, :mod:`~cloud.mirror.hub` hands the newest JPEG to every
viewer, :mod:`~cloud.mirror.app` serves them (WebSocket, MJPEG, the ``/mirror`` page)
and :mod:`~cloud.mirror.service` wires it to MQTT (``dancebooth cloud mirror``).
"""
