"""The generated reference pages in ``docs/``: ``cli.md`` from the typer app (typer's own
``utils docs`` renderer), and ``spec.md`` and ``spec.schema.json`` from the spec's models
(``assay.pipelines.spec_reference``). Regenerate all three after changing a command, an
option, a spec key or a step::

    python -m assay.flows.reference docs

``tests/test_docs.py`` renders them in memory and fails when a committed file differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from assay.pipelines import spec_reference

CLI_MD = "cli.md"

_CLI_INTRO = f"""<!-- Generated from the typer app by `{spec_reference.REGENERATE}`: do not edit
     by hand. tests/test_docs.py fails when this file is stale. -->

Every command and option of `assay`, as `assay COMMAND --help` prints them. Exit codes: 0
done, 1 internal failure, 2 invalid spec or usage, 3 rejected upload, 4 gate abort, 5
storage failed, 130 interrupted, 143 or 129 terminated by SIGTERM or SIGHUP (the
[README](../README.md#exit-codes) says more). The
[operations guide](operations.md) shows `serve`, `api` and `watch` at work."""


def cli_markdown() -> str:
    """The text of docs/cli.md: typer's markdown for the ``assay`` app, in plain text (no
    HTML escapes), with a note on where it comes from."""
    import typer
    from typer.cli import get_docs_for_click

    from assay.flows.cli import app

    command = typer.main.get_command(app)
    context = typer.Context(command, info_name="assay", **command.context_settings)
    body = get_docs_for_click(obj=command, ctx=context, name="assay",
                              title="Command line reference").strip()
    title, rest = body.split("\n", 1)
    return f"{title}\n\n{_CLI_INTRO}\n{rest}\n"


def rendered() -> dict[str, str]:
    """File name (in the docs folder) -> its generated text."""
    return {**spec_reference.rendered(), CLI_MD: cli_markdown()}


def write(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def main(argv: list[str]) -> int:
    for path in write(argv[0] if argv else "docs"):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
