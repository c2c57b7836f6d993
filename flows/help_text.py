"""Command help as paragraphs, whatever the width a docstring was wrapped at.

typer's rich help joins the lines of a command's first paragraph but prints the later ones
with the docstring's own line breaks, so a docstring wrapped at the source's 100 columns
came out ragged in an 80-column terminal. Joining each paragraph's lines once, when the app
is assembled, lets rich wrap them to the terminal (and docs/cli.md gets the same text).
"""

from __future__ import annotations

import inspect

import typer


def paragraphs(doc: str) -> str:
    """``doc`` with each paragraph's lines joined into one (blank lines still separate
    them)."""
    return "\n\n".join(" ".join(block.split()) for block in inspect.cleandoc(doc).split("\n\n"))


def reflow(app: typer.Typer) -> None:
    """Give every command of ``app`` and of its groups its docstring as ``paragraphs``."""
    for command in app.registered_commands:
        doc = command.help or inspect.getdoc(command.callback)
        if doc:
            command.help = paragraphs(doc)
    for group in app.registered_groups:
        reflow(group.typer_instance)
