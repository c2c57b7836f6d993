# Background job: copy the repo, generate the data, run DuckDB, Polars and assay on pandas.
set -u
mkdir -p /tmp/repo /tmp/bin /tmp/out
(cd "$1" && tar --exclude=./.gpu --exclude=./.git -cf - .) | tar -xf - -C /tmp/repo
printf '#!/bin/sh\nexec python3 -c "from assay.flows.cli import app; app(prog_name=\\"assay\\")" "$@"\n' \
  > /tmp/bin/assay && chmod +x /tmp/bin/assay
. /tmp/repo/benchmarks/gpu_lease/env.sh
cd /tmp/repo
date +%s > /tmp/out/cpu.start
python3 benchmarks/run_gpu.py --tools duckdb,polars,assay-pandas --json /tmp/out/cpu.json \
  > /tmp/out/cpu.txt 2>&1
echo $? > /tmp/out/cpu.done
