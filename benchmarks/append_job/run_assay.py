"""One assay run of the append job through the Python API (``assay.run``: the engine and
the publish, without the CLI's Prefect server, whose start-up would blur the comparison).

    python -m benchmarks.append_job.run_assay SPEC OUTPUT INPUT...
"""

from __future__ import annotations

import json
import sys

import assay


def main() -> None:
    spec, output, *inputs = sys.argv[1:]
    result = assay.run(spec, inputs=inputs, output=output)
    print("RESULT " + json.dumps({"rows_added": result.manifest["rows_added"],
                                  "engine_s": result.summary.wall_seconds}))


if __name__ == "__main__":
    main()
