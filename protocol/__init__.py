"""The contract between edge and cloud: skeleton, topics, messages, frame packets, shards.

Imports nothing from ``edge`` or ``cloud``; both sides import it.
"""

PROTOCOL_VERSION = 1
