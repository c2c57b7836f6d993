# One staging call on the GPU machine: chunk NN into /tmp/st, complete wheels into /tmp/site.
# After the chunk marked CPU_STACK_COMPLETE (pack.py) the CPU stack is complete: the repo
# is copied to /tmp/repo and the CPU half of the benchmark starts in the background
# (setsid: it outlives the call).
set -u
mkdir -p /tmp/st && cp ".gpu/c$1"/* /tmp/st/ && python3 benchmarks/gpu_lease/unpack.py
if [ -f ".gpu/c$1/CPU_STACK_COMPLETE" ]; then
  setsid nohup bash benchmarks/gpu_lease/cpu_half.sh "$PWD" > /tmp/bg.log 2>&1 < /dev/null &
  sleep 2; echo "CPU half of the benchmark started"; cat /tmp/bg.log
fi
[ -f /tmp/out/cpu.txt ] && tail -3 /tmp/out/cpu.txt
exit 0
