from __future__ import annotations

import threading
import time

import numpy as np

from edge.frames import Frame
from edge.ring import FrameRing


def _frame(seq: int) -> Frame:
    return Frame(seq, seq, np.zeros((2, 2, 3), dtype=np.uint8))


def test_full_ring_drops_incoming_counts_and_never_blocks() -> None:
    ring = FrameRing(4)
    accepted = [ring.put(_frame(i)) for i in range(10)]
    assert accepted == [True] * 4 + [False] * 6
    assert ring.dropped == [4, 5, 6, 7, 8, 9]
    ring.close()
    assert [f.seq for f in ring.drain()] == [0, 1, 2, 3]


def test_slow_consumer_never_stalls_the_producer() -> None:
    ring = FrameRing(8)
    got: list[int] = []

    def consume() -> None:
        for frame in ring.drain():
            time.sleep(0.002)  # a consumer far slower than the producer
            got.append(frame.seq)

    consumer = threading.Thread(target=consume)
    consumer.start()
    start = time.monotonic()
    for i in range(2000):
        ring.put(_frame(i))
    produce_s = time.monotonic() - start
    ring.close()
    consumer.join()
    # Every frame is either consumed (in order) or reported dropped; none vanish.
    assert sorted(got + ring.dropped) == list(range(2000))
    assert got == sorted(got)
    assert len(ring.dropped) > 1000
    assert produce_s < 2000 * 0.002  # the producer never waited for the consumer


def test_get_times_out_and_returns_none_after_close() -> None:
    ring = FrameRing(2)
    assert ring.get(timeout=0.01) is None
    ring.close()
    assert ring.get() is None
