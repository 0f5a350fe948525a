#!/usr/bin/env bash
# The simulator's checks on a CUDA GPU, in one timed script (CI has no GPU; run this where one is lent).
#
#   OUT=/some/dir bash scripts/cuda_check.sh [DEPLOYMENT.sfd]
#
# Uses the python3 on the PATH (its own torch with CUDA) and the source tree (PYTHONPATH=src), so nothing is
# installed but the wheels in $SPIKEFORGE_WHEELS (pure-Python packages that machine lacks: nir, snntorch, ...).
# Writes under $OUT:
#   sim-cuda.log / sim-cuda.xml   the simulator, CLI and mapping tests with SPIKEFORGE_TEST_DEVICE=cuda: every
#                                 spike-for-spike check against the plain-loop reference, run on the GPU, and
#                                 tests/sim/test_sim_cuda.py (CPU against GPU)
#   sim_throughput_cuda.json      benchmarks/sim_throughput.py --device cuda (spikeforge, snnTorch, Norse)
#   big-{cpu,cuda}.json           `spikeforge simulate DEPLOYMENT -d mnist` on either device (if given)
#   rest-cuda.log                 the remaining tests on the GPU machine (time-boxed)
set -uo pipefail
OUT=${OUT:?set OUT to a folder for the results}
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1 SPIKEFORGE_PROGRESS=0
export SPIKEFORGE_TEST_DEVICE=cuda
step() { echo "=== $(date +%T) $*"; }

step machine
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, numpy, scipy; print('python', __import__('sys').version.split()[0], 'torch', torch.__version__,
'cuda', torch.version.cuda, torch.cuda.is_available(), 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
if [ -n "${SPIKEFORGE_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps "$SPIKEFORGE_WHEELS"/*.whl 2>&1 | tail -2
fi
workers=$(( $(nproc) > 8 ? 8 : $(nproc) ))

step "simulator tests on cuda"
timeout "${SIM_TESTS_S:-150}" python3 -m pytest -q -p no:cacheprovider -n "$workers" --maxfail=30 --junitxml="$OUT/sim-cuda.xml" \
  tests/sim tests/cli/test_cli.py tests/mapping tests/eedn/test_eedn.py > "$OUT/sim-cuda.log" 2>&1
echo "rc=$?"; tail -5 "$OUT/sim-cuda.log"

step "throughput on cuda"
timeout "${THROUGHPUT_S:-90}" python3 benchmarks/sim_throughput.py --device cuda --inputs "${INPUTS:-20000}" \
  > "$OUT/throughput.log" 2>&1
echo "rc=$?"; tail -6 "$OUT/throughput.log"
cp benchmarks/results/sim_throughput_cuda.json "$OUT/" 2>/dev/null

if [ -n "${1:-}" ]; then
  for dev in cuda cpu; do
    step "spikeforge simulate $1 on $dev"
    s=$(date +%s.%N)
    timeout "${BIG_S:-120}" python3 -m spikeforge.cli simulate "$1" -d mnist --device "$dev" --json > "$OUT/big-$dev.json"
    echo "rc=$? wall $(python3 -c "print(round($(date +%s.%N) - $s, 2))") s"
  done
  python3 - "$OUT" <<'EOF'
import json, sys
a, b = (json.load(open(f"{sys.argv[1]}/big-{d}.json")) for d in ("cuda", "cpu"))
same = (a["accuracy"], a["events_per_input"], a["uJ_per_image"]) == (b["accuracy"], b["events_per_input"], b["uJ_per_image"])
print("cuda == cpu:", same, "accuracy", a["accuracy"], "uJ", a["uJ_per_image"])
EOF
fi

step "other tests on the GPU machine"
timeout "${REST_S:-120}" python3 -m pytest -q -p no:cacheprovider -n "$workers" tests \
  --ignore=tests/sim --ignore=tests/cli/test_cli.py --ignore=tests/mapping --ignore=tests/eedn/test_eedn.py \
  -m "not slow" > "$OUT/rest-cuda.log" 2>&1
echo "rc=$?"; tail -15 "$OUT/rest-cuda.log"
step done
