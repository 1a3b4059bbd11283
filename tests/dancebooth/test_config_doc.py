"""docs/configuration.md's settings reference is the one generated from the settings models."""

from __future__ import annotations

from pathlib import Path

from dancebooth.config_doc import END, START, config_reference, embed

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_configuration_doc_is_up_to_date() -> None:
    text = DOC.read_text()
    assert embed(text, config_reference()) == text, (
        "settings changed: run `dancebooth config-reference --write docs/configuration.md`"
    )


def test_reference_names_every_group_and_env_var() -> None:
    ref = config_reference()
    for key in ("`mqtt.host`", "`pose.(blazepose).threads`", "`storage.(s3).bucket`"):
        assert key in ref
    assert "DANCEBOOTH_CLOUD_API__SECRET_KEY" in ref
    assert START not in ref and END not in ref
