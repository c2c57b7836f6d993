"""``python -m assay``: the ``assay`` command line."""

from assay.flows.cli import app

app(prog_name="assay")
