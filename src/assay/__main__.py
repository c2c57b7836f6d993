"""``python -m assay``: the ``assay`` command line, through the same launcher as the console
script (a running daemon, Dask imported lean)."""

from assay.flows.launcher import main

main()
