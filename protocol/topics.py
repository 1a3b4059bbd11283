"""MQTT topic layout. Every topic is built and parsed here and nowhere else.

Under a configurable prefix (default ``dancebooth``)::

    {prefix}/{booth}/cmd/capture                     CaptureStart   (cloud → nodes)
    {prefix}/{booth}/cmd/cancel                      CaptureCancel  (cloud → nodes)
    {prefix}/{booth}/cmd/resend                      ResendRequest  (cloud → one node)
    {prefix}/{booth}/cmd/clock                       ClockPing      (cloud → nodes; answered
                                                     by a NodeStatus carrying a ClockEcho)
    {prefix}/{booth}/cmd/plate                       PlateTake      (cloud → nodes: take the
                                                     clean plate now)
    {prefix}/{booth}/cmd/erase/{session}             EraseRequest, retained (cloud → nodes;
                                                     cleared once every node confirmed)
    {prefix}/{booth}/node/{node}/status              NodeStatus, retained, last will
    {prefix}/{booth}/node/{node}/frames/{session}    binary frame packets, QoS 1
    {prefix}/{booth}/node/{node}/manifest/{session}  CaptureManifest, QoS 1
    {prefix}/{booth}/node/{node}/plate/{session}     clean-plate chunks (protocol.plates), QoS 1
    {prefix}/{booth}/node/{node}/preview             low-rate skeleton JPEG
    {prefix}/{booth}/node/{node}/live                every frame's keypoints (protocol.live),
                                                     QoS 0, capturing or not
    {prefix}/{booth}/node/{node}/erased/{session}    EraseAck, QoS 1

A node's own topics all sit under ``{prefix}/{booth}/node/{node}/``, so one ACL line
per node confines what it may publish.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocol.errors import TopicError
from protocol.ids import check_id

DEFAULT_PREFIX = "dancebooth"


class Command(StrEnum):
    CAPTURE = "capture"
    CANCEL = "cancel"
    RESEND = "resend"
    CLOCK = "clock"
    PLATE = "plate"
    ERASE = "erase"  # per session: {prefix}/{booth}/cmd/erase/{session}


class NodeChannel(StrEnum):
    STATUS = "status"
    FRAMES = "frames"
    MANIFEST = "manifest"
    PREVIEW = "preview"
    PLATE = "plate"
    ERASED = "erased"
    LIVE = "live"


_SESSION_CHANNELS = frozenset(
    {NodeChannel.FRAMES, NodeChannel.MANIFEST, NodeChannel.PLATE, NodeChannel.ERASED}
)
_SESSION_COMMANDS = frozenset({Command.ERASE})


def _check_prefix(prefix: str) -> str:
    parts = prefix.split("/")
    for part in parts:
        check_id(part, "topic prefix segment")
    return prefix


@dataclass(frozen=True)
class Topics:
    """Topic builder/parser for one prefix."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        _check_prefix(self.prefix)

    # -- building -----------------------------------------------------------------
    def command(self, booth: str, command: Command) -> str:
        if Command(command) in _SESSION_COMMANDS:
            raise TopicError(f"the {command.value} command is per session: use its own builder")
        return f"{self.prefix}/{check_id(booth, 'booth id')}/cmd/{Command(command).value}"

    def erase(self, booth: str, session: str) -> str:
        """The retained erase request of one session (one topic each, so each can be
        cleared on its own once every node confirmed)."""
        sid = check_id(session, "session id")
        return f"{self.prefix}/{check_id(booth, 'booth id')}/cmd/{Command.ERASE.value}/{sid}"

    def erase_filter(self, booth: str) -> str:
        """Subscription filter for every erase request of one booth."""
        return f"{self.prefix}/{check_id(booth, 'booth id')}/cmd/{Command.ERASE.value}/+"

    def commands_filter(self, booth: str) -> str:
        """Subscription filter for every command of one booth."""
        return f"{self.prefix}/{check_id(booth, 'booth id')}/cmd/+"

    def node_base(self, booth: str, node: str) -> str:
        return f"{self.prefix}/{check_id(booth, 'booth id')}/node/{check_id(node, 'node id')}"

    def status(self, booth: str, node: str) -> str:
        return f"{self.node_base(booth, node)}/status"

    def preview(self, booth: str, node: str) -> str:
        return f"{self.node_base(booth, node)}/preview"

    def live(self, booth: str, node: str) -> str:
        return f"{self.node_base(booth, node)}/live"

    def frames(self, booth: str, node: str, session: str) -> str:
        return f"{self.node_base(booth, node)}/frames/{check_id(session, 'session id')}"

    def manifest(self, booth: str, node: str, session: str) -> str:
        return f"{self.node_base(booth, node)}/manifest/{check_id(session, 'session id')}"

    def plate(self, booth: str, node: str, session: str) -> str:
        return f"{self.node_base(booth, node)}/plate/{check_id(session, 'session id')}"

    def erased(self, booth: str, node: str, session: str) -> str:
        return f"{self.node_base(booth, node)}/erased/{check_id(session, 'session id')}"

    def channel_filter(self, channel: NodeChannel, booth: str = "+") -> str:
        """Subscription filter for one channel of every node (of one booth, or all)."""
        if booth != "+":
            check_id(booth, "booth id")
        tail = "/+" if NodeChannel(channel) in _SESSION_CHANNELS else ""
        return f"{self.prefix}/{booth}/node/+/{channel.value}{tail}"

    # -- parsing ------------------------------------------------------------------
    def parse(self, topic: str) -> ParsedTopic:
        """Parse any protocol topic; raise :class:`TopicError` for anything else."""
        if not topic.startswith(self.prefix + "/"):
            raise TopicError(f"topic {topic!r} is not under prefix {self.prefix!r}")
        parts = topic[len(self.prefix) + 1 :].split("/")
        try:
            if len(parts) in (3, 4) and parts[1] == "cmd":
                command = Command(parts[2])
                if (command in _SESSION_COMMANDS) != (len(parts) == 4):
                    raise TopicError(f"topic {topic!r}: wrong number of segments")
                session = check_id(parts[3]) if len(parts) == 4 else None
                return ParsedTopic(
                    booth=check_id(parts[0]), command=command, node=None, session=session
                )
            if len(parts) in (4, 5) and parts[1] == "node":
                channel = NodeChannel(parts[3])
                has_session = channel in _SESSION_CHANNELS
                if has_session != (len(parts) == 5):
                    raise TopicError(f"topic {topic!r}: wrong number of segments")
                return ParsedTopic(
                    booth=check_id(parts[0]),
                    node=check_id(parts[2]),
                    channel=channel,
                    session=check_id(parts[4]) if has_session else None,
                )
        except ValueError as exc:  # IdentifierError, or an unknown enum value
            raise TopicError(f"topic {topic!r}: {exc}") from exc
        raise TopicError(f"topic {topic!r} is not a dancebooth topic")


@dataclass(frozen=True)
class ParsedTopic:
    booth: str
    node: str | None
    command: Command | None = None
    channel: NodeChannel | None = None
    session: str | None = None


def shared_subscription(group: str, topic_filter: str) -> str:
    """MQTT v5 shared subscription: brokers split matching messages across the group."""
    return f"$share/{check_id(group, 'share group')}/{topic_filter}"
