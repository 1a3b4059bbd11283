from __future__ import annotations

import pytest

from protocol.errors import IdentifierError, TopicError
from protocol.topics import Command, NodeChannel, Topics, shared_subscription

T = Topics("dancebooth")


def test_build_and_parse_every_topic() -> None:
    cases = [
        (T.command("b1", Command.CAPTURE), ("b1", None, Command.CAPTURE, None, None)),
        (T.status("b1", "n1"), ("b1", "n1", None, NodeChannel.STATUS, None)),
        (T.preview("b1", "n1"), ("b1", "n1", None, NodeChannel.PREVIEW, None)),
        (T.frames("b1", "n1", "s1"), ("b1", "n1", None, NodeChannel.FRAMES, "s1")),
        (T.manifest("b1", "n1", "s1"), ("b1", "n1", None, NodeChannel.MANIFEST, "s1")),
        (T.erase("b1", "s1"), ("b1", None, Command.ERASE, None, "s1")),
        (T.erased("b1", "n1", "s1"), ("b1", "n1", None, NodeChannel.ERASED, "s1")),
    ]
    for topic, (booth, node, command, channel, session) in cases:
        parsed = T.parse(topic)
        assert (parsed.booth, parsed.node, parsed.command, parsed.channel, parsed.session) == (
            booth,
            node,
            command,
            channel,
            session,
        )


def test_layout_is_stable() -> None:
    assert T.frames("b1", "n1", "s1") == "dancebooth/b1/node/n1/frames/s1"
    assert T.commands_filter("b1") == "dancebooth/b1/cmd/+"
    assert T.channel_filter(NodeChannel.FRAMES) == "dancebooth/+/node/+/frames/+"
    assert T.channel_filter(NodeChannel.STATUS, "b1") == "dancebooth/b1/node/+/status"
    assert shared_subscription("up", "a/b") == "$share/up/a/b"
    assert T.erase("b1", "s1") == "dancebooth/b1/cmd/erase/s1"
    assert T.erase_filter("b1") == "dancebooth/b1/cmd/erase/+"
    assert T.erased("b1", "n1", "s1") == "dancebooth/b1/node/n1/erased/s1"


def test_the_erase_command_is_per_session() -> None:
    with pytest.raises(TopicError):
        T.command("b1", Command.ERASE)


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "a b", "../x", "x" * 65, "é"])
def test_ids_that_could_widen_a_subscription_are_refused(bad: str) -> None:
    with pytest.raises(IdentifierError):
        T.frames("b1", bad, "s1")


@pytest.mark.parametrize(
    "topic",
    [
        "other/b1/node/n1/status",
        "dancebooth/b1/node/n1/frames",
        "dancebooth/b1/node/n1/status/extra",
        "dancebooth/b1/node/n1/video/s1",
        "dancebooth/b1/cmd/explode",
        "dancebooth/b1/cmd/erase",
        "dancebooth/b1/cmd/capture/s1",
        "dancebooth/b+/cmd/capture",
        "dancebooth",
    ],
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        T.parse(topic)


def test_custom_prefix() -> None:
    t = Topics("site/dancebooth")
    assert t.parse(t.status("b", "n")).node == "n"
    with pytest.raises(IdentifierError):
        Topics("bad/+")
