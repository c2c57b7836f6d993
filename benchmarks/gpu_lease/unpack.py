"""On the GPU machine: extract every wheel in /tmp/st whose parts have all arrived into
/tmp/site (``PYTHONPATH=/tmp/site``). Wheels are zip files; none of this set needs more
than extraction (no compiled scripts are used)."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

STAGE, SITE = Path("/tmp/st"), Path("/tmp/site")


def join_parts() -> list[str]:
    """Join the wheels whose parts are all here; the names of those still incomplete."""
    parts: dict[tuple[str, int], dict[int, Path]] = {}
    for path in STAGE.glob("*.part-*-of-*"):
        name, k, n = re.fullmatch(r"(.+)\.part-(\d+)-of-(\d+)", path.name).groups()
        parts.setdefault((name, int(n)), {})[int(k)] = path
    waiting = []
    for (name, n), got in parts.items():
        if len(got) < n:
            waiting.append(name)
            continue
        with open(STAGE / name, "wb") as out:
            for k in range(n):
                out.write(got[k].read_bytes())
        for path in got.values():
            path.unlink()
    return waiting


def main() -> None:
    started = time.perf_counter()
    SITE.mkdir(exist_ok=True)
    waiting = join_parts()
    wheels = sorted(STAGE.glob("*.whl"))
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(SITE)
        wheel.rename(wheel.with_suffix(".done"))
    print(f"extracted {len(wheels)} wheels in {time.perf_counter() - started:.1f} s; "
          f"waiting for parts of {waiting}")


if __name__ == "__main__":
    main()
