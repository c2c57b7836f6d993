# The lease's working call: check the GPU stack, wait for the CPU half, benchmark assay on
# cuDF, the parity suite, a cuDF run through the run daemon, where a partition's time goes
# on each backend, and near_dedup on both backends when the text corpus is carried
# (TEXT_CORPUS, relative to the call's tree).
# Results into $OUT (at most 8 files come back).
set -u
CALL=$PWD
python3 benchmarks/gpu_lease/unpack.py
. /tmp/repo/benchmarks/gpu_lease/env.sh
cd /tmp/repo
# a timed-out run can leave its Dask workers holding GPU memory: end them before the next
leftovers() { pkill -9 -f "multiprocessing.spawn|dask_cuda|distributed.nanny" 2>/dev/null; sleep 1; }
{ python3 -c "import cudf, dask_cuda; print('cudf', cudf.__version__, 'dask-cuda', dask_cuda.__version__)" 2>&1 | tail -3
  timeout 60 assay doctor 2>&1; } > "$OUT/doctor.txt"; tail -30 "$OUT/doctor.txt"
for _ in $(seq 1 "${WAIT_S:-60}"); do [ -f /tmp/out/cpu.done ] && break; sleep 1; done
echo "CPU half exit: $(cat /tmp/out/cpu.done 2>/dev/null || echo unfinished)"
tail -12 /tmp/out/cpu.txt; cp /tmp/out/cpu.json /tmp/out/cpu.txt "$OUT/" 2>/dev/null
# GPU_ROWS below 50M (its data generated here, 16 processes) gets a figure in a short slot
timeout "${BENCH_S:-180}" python3 benchmarks/run_gpu.py --tools assay-cudf --json "$OUT/gpu.json" \
  --rows "${GPU_ROWS:-50000000}" > "$OUT/gpu.txt" 2>&1
echo "assay-cudf exit: $?"; tail -25 "$OUT/gpu.txt"
# the run's warnings: a host fallback for CSV blocks or shards means the device path was left
python3 -c "import json, sys; [print(r['tool'], line) for r in json.load(open(sys.argv[1]))
  ['results'] for line in r['extra'].get('backend_log', [])]" "$OUT/gpu.json" 2>&1 | head -12
leftovers
timeout "${PARITY_S:-150}" python3 -m pytest tests/gpu -q -n 8 -p no:cacheprovider --timeout 140 \
  -rf --tb=short > "$OUT/parity.txt" 2>&1
echo "parity exit: $?"; grep -E "passed|failed|error" "$OUT/parity.txt" | tail -3
grep -E "^(FAILED|ERROR)" "$OUT/parity.txt" | head -40
leftovers
# a run forked by the run daemon, which never imported cuDF: its CUDA context after the fork
# (appended to doctor.txt: at most 8 files come back)
timeout "${DAEMON_S:-120}" bash benchmarks/gpu_lease/daemon_run.sh 2>&1 | tee -a "$OUT/doctor.txt"
leftovers
# one 50M-row file's first partitions, in this process, on each backend
data=$(ls -d benchmarks/data/events-50000000-* | head -1)
for backend in ${PROFILE_BACKENDS:-cudf pandas}; do
  timeout "${PROFILE_S:-60}" python3 benchmarks/profile_chain.py benchmarks/standard_job/pipeline.yaml \
    --input "$data/$(ls "$data" | grep csv | head -1)" --backend $backend --partitions 4 \
    --calls "${PROFILE_CALLS:-40}" 2>&1
done > "$OUT/profile.txt"; grep -E "^(read|step|whole|shards|cudf|pandas)" "$OUT/profile.txt"
if [ -n "${TEXT_CORPUS:-}" ]; then
  leftovers
  timeout "${TEXT_S:-120}" python3 benchmarks/run_gpu_text.py "$CALL/$TEXT_CORPUS" \
    > "$OUT/text.txt" 2>&1
  echo "near_dedup exit: $?"; tail -8 "$OUT/text.txt"
fi
