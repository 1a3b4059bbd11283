"""The README's settings reference is the one generated from the settings models."""

from __future__ import annotations

from pathlib import Path

from dancebooth.config_doc import END, START, config_reference, embed

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_is_up_to_date() -> None:
    text = README.read_text()
    assert embed(text, config_reference()) == text, (
        "settings changed: run `dancebooth config-reference --write README.md`"
    )


def test_reference_names_every_group_and_env_var() -> None:
    ref = config_reference()
    for key in ("`mqtt.host`", "`pose.(blazepose).threads`", "`storage.(s3).bucket`"):
        assert key in ref
    assert "DANCEBOOTH_CLOUD_API__SECRET_KEY" in ref
    assert START not in ref and END not in ref
