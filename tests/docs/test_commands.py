"""Every `dancebooth …` command the docs show names a real command with real options.

Each command line inside a fenced code block of the README, docs/ and infra/ READMEs is
parsed against the command's own click definition (what `--help` prints): the groups and
command exist, every option is one of the command's, an option that takes a value gets
one, and there are no more positional arguments than it accepts. Values are not checked
(the docs use placeholders such as SESSION).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from dancebooth.cli import cli
from tests.services import REPO

DOCS = sorted(
    [
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        *(REPO / "infra").rglob("README.md"),
        REPO / "models" / "README.md",
        REPO / "reference_videos" / "README.md",
    ]
)
FENCE = re.compile(r"^\s*```[^\n]*\n(.*?)^\s*```", re.S | re.M)
INLINE = re.compile(r"(?<!`)`(dancebooth [a-z-][^`]*)`(?!`)")
SEPARATORS = re.compile(r"&&|\|\||[;|(`]")
PREFIX = re.compile(r"^(?:sudo(?:\s+-u\s+\S+)?\s+|nice\s+-n\s+\S+\s+|time\s+|\w+=\S*\s+)+")


class DocCommandError(AssertionError):
    """A documented command that the CLI would refuse."""


def doc_commands(path: Path) -> list[str]:
    """`dancebooth` command lines of ``path``: inline code that starts with it, and in
    fenced code blocks every simple shell command whose program is `dancebooth` (after
    sudo, nice, VAR=value)."""
    text = path.read_text()
    found = [" ".join(m.split()) for m in INLINE.findall(FENCE.sub("", text))]
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s)#.*", "", line)
            for part in SEPARATORS.split(line):
                part = PREFIX.sub("", part.strip())
                words = part.split(maxsplit=1)
                if words and words[0].rsplit("/", 1)[-1] == "dancebooth":
                    found.append(" ".join(["dancebooth", *words[1:]]))
    return found


def check_command(line: str) -> None:
    """Raise DocCommandError unless ``line`` parses against the CLI's definitions."""
    if "…" in line:
        return  # "dancebooth model …": a family of commands, not one
    # "[--once]" in prose marks an optional part: check it as if given.
    words = [w.strip("[]") for w in shlex.split(line)[1:]]
    if words and words[-1] in ("-h", "--help"):
        words = words[:-1]
        if not words:
            return
    cmd: click.Command = cli
    ctx = click.Context(cli, info_name="dancebooth")
    while True:
        words = _options(cmd, words, line, leaf=False)
        if not isinstance(cmd, click.Group):
            break
        if cmd.invoke_without_command and (not words or words[0] not in cmd.list_commands(ctx)):
            break  # a group that is also a command (`render [SESSION]`, `render verify FILE`)
        if not words:
            raise DocCommandError(f"`{line}` names no command of `{ctx.command_path}`")
        sub = cmd.get_command(ctx, words[0])
        if sub is None:
            raise DocCommandError(f"`{line}`: `{ctx.command_path}` has no command {words[0]!r}")
        ctx = click.Context(sub, parent=ctx, info_name=words[0])
        cmd, words = sub, words[1:]
    rest = _options(cmd, words, line, leaf=True)
    arguments = [p for p in cmd.params if isinstance(p, click.Argument)]
    unlimited = any(a.nargs < 0 for a in arguments)
    if not unlimited and len(rest) > sum(a.nargs for a in arguments):
        raise DocCommandError(f"`{line}`: too many arguments for `{ctx.command_path}`: {rest}")


def _options(cmd: click.Command, words: list[str], line: str, leaf: bool) -> list[str]:
    """Consume the options ``cmd`` knows; return the positional words (all of them for a
    leaf, else up to the subcommand)."""
    options = {o: p for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
    options.update(
        {o: p for p in cmd.params if isinstance(p, click.Option) for o in p.secondary_opts}
    )
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-h", "--help"):
            i += 1
            continue
        if word.startswith("-") and len(word) > 1 and not _number(word):
            name, has_value, _ = word.partition("=")
            param = options.get(name)
            if param is None:
                raise DocCommandError(f"`{line}`: `{cmd.name}` has no option {name}")
            takes = not (param.is_flag or param.count)
            if takes and not has_value:
                if i + 1 >= len(words):
                    raise DocCommandError(f"`{line}`: {name} needs a value")
                i += 1
            i += 1
            continue
        if not leaf and isinstance(cmd, click.Group):
            return words[i:]
        out.append(word)
        i += 1
    return out


def _number(word: str) -> bool:
    return bool(re.fullmatch(r"-\d+(\.\d+)?", word))


COMMANDS = [
    pytest.param(line, id=f"{path.relative_to(REPO)}: {line[:60]}")
    for path in DOCS
    for line in doc_commands(path)
]


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) > 30, "the pattern finds too few documented commands"


@pytest.mark.parametrize("line", COMMANDS)
def test_documented_command_parses(line: str) -> None:
    check_command(line)


@pytest.mark.parametrize(
    "line",
    [
        "dancebooth edge run --capturee 15",
        "dancebooth cloud uploaderr",
        "dancebooth model train-base --corpus",
        "dancebooth edge check-config extra-arg",
    ],
)
def test_a_wrong_command_is_caught(line: str) -> None:
    with pytest.raises(DocCommandError):
        check_command(line)
