from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.training.corpus import corpus_sessions
from cloud.training.data import build_frameset
from cloud.training.errors import DataError
from edge.synthetic.corpus import write_corpus
from tests.cloud.training.dancer import write_session


def test_reads_the_synthetic_booth_corpus(tmp_path: Path) -> None:
    write_corpus(tmp_path, staff=2, visitors=1, resolution=128, fps=4, duration_s=1.5)
    staff = corpus_sessions(tmp_path, "staff")
    visitors = corpus_sessions(tmp_path, "visitor")
    assert [s.role for s in staff] == ["staff", "staff"] and len(visitors) == 1
    assert all(p.is_file() for s in staff for p in s.shards)
    data = build_frameset(visitors[0].shards, 128)
    assert len(data) == 6 and data.images.shape[1:] == (3, 128, 128)


def test_plain_store_without_index_and_bad_indexes(tmp_path: Path) -> None:
    write_session(tmp_path, "a1", frames=4)
    assert [s.session for s in corpus_sessions(tmp_path)] == ["a1"]
    (tmp_path / "corpus.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        corpus_sessions(tmp_path)
    (tmp_path / "corpus.json").write_text(json.dumps({"sessions": [{"role": "staff"}]}))
    with pytest.raises(DataError, match="no session id"):
        corpus_sessions(tmp_path)
    (tmp_path / "corpus.json").write_text(
        json.dumps({"sessions": [{"session": "a1", "role": "visitor"}]})
    )
    with pytest.raises(DataError, match="role 'staff'"):
        corpus_sessions(tmp_path, "staff")
