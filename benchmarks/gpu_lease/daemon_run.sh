# On the GPU machine, after env.sh: the events sample through the run daemon, on cuDF
# (BACKEND). The daemon preloads pandas, Dask and Prefect but never cuDF or CuPy, so the
# child it forks for the run makes its CUDA context itself, after the fork: the claim this
# checks. Prints the run's exit, its summary's backend row and the daemon's log lines for it.
set -u
export ASSAY_DATA_DIR=/tmp/daemon-data ASSAY_DAEMON=manual
rm -rf /tmp/daemon-out
python3 -m assay daemon start || exit 1
timeout "${RUN_S:-90}" python3 -m assay run data_samples/events/pipeline.yaml \
  --backend "${BACKEND:-cudf}" --output /tmp/daemon-out > /tmp/daemon-run.txt 2>&1
echo "daemon run exit: $?"
grep -E "backend|rows written|error" /tmp/daemon-run.txt
python3 -m assay daemon stop
grep -E "run [0-9]+:" "$ASSAY_DATA_DIR/daemon/daemon.log" | tail -3
