"""Errors of the protocol package.

ProtocolError
├── IdentifierError   a booth/node/session id that cannot be a topic segment
├── TopicError          a topic that is not one of ours, or is malformed
├── MessageError        a JSON message that fails its schema
├── PacketError         a binary frame packet that fails to decode or encode
├── ShardError          a shard file that is not in the one shard format
├── MaskError           a person mask that is not a small 8-bit grayscale PNG of the frame
└── PlateError          a clean-plate chunk (or plate) that fails to decode or assemble
"""


class ProtocolError(ValueError):
    """Something on the wire is not what the protocol allows."""


class IdentifierError(ProtocolError):
    """An id that may not appear in a topic or an object-store key."""


class TopicError(ProtocolError):
    """A topic that does not parse as one of the protocol's topics."""


class MessageError(ProtocolError):
    """A JSON message that does not match its schema."""


class PacketError(ProtocolError):
    """A frame packet that is malformed, oversized or of an unknown version."""


class ShardError(ProtocolError):
    """A shard that does not follow the shard format."""


class MaskError(ProtocolError):
    """A person mask that is not a valid PNG, or not sized for its frame."""


class PlateError(ProtocolError):
    """A clean-plate chunk that is malformed, or chunks that do not make a plate."""
