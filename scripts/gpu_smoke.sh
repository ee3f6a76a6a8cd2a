#!/usr/bin/env bash
# GPU smoke check: the CUDA paths end to end, with figures. Run from the repository root on a machine with a
# CUDA GPU and PyTorch (no install of mmcse needed; imageio-ffmpeg is optional):
#     bash scripts/gpu_smoke.sh                 # DEVICE=cpu bash scripts/gpu_smoke.sh checks the script itself
# What it does (about 3-5 minutes on one GPU): a synthetic dataset with VALOR's feature shapes; MM-CSE trained
# 2 epochs with the paper preset, resumed for a 3rd, 1 epoch in bf16 autocast and 1 epoch under torchrun
# (NCCL, one rank); `evaluate` reproducing the stored val metrics; `bench` (eval forward, training step, bf16,
# end to end); the shipped demo checkpoint's probabilities on the GPU against the CPU's; `parse` of a demo
# video when imageio-ffmpeg is importable. Logs go to $OUT (default /tmp/mmcse_gpu_smoke).
set -euo pipefail
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/mmcse_gpu_smoke}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
data="$OUT/data" run="$OUT/run"
rm -rf "$data" "$run" "$OUT/run_bf16" "$OUT/run_ddp"
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

step "device"
"$PY" - "$DEVICE" <<'EOF'
import sys, torch
dev = sys.argv[1]
print("torch", torch.__version__, "| cuda available", torch.cuda.is_available())
if dev == "cuda":
    assert torch.cuda.is_available(), "no CUDA device: run with DEVICE=cpu to check the script itself"
    print(torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
EOF

step "synthetic dataset (valor shapes: 640 train, 64 val, 64 test)"
"$PY" -c "
from mmcse.config import feature_preset
from mmcse.data.synthetic import write_synthetic_dataset
write_synthetic_dataset('$data', feature_preset('valor'), 640, 64, 64, seed=1)
"

train=("$PY" -m mmcse train --data-root "$data" --features valor --preset paper-mmcse --device "$DEVICE" --no-progress)
step "train: paper preset, 2 epochs"
"${train[@]}" --epochs 3 --stop-after-epochs 2 --out "$run"
step "train: resume for the 3rd epoch"
"${train[@]}" --out "$run" --resume
step "train: bf16 autocast, 1 epoch"
"${train[@]}" --epochs 1 --bf16 --out "$OUT/run_bf16"
step "train: torchrun, one rank ($([ "$DEVICE" = cuda ] && echo NCCL || echo gloo))"
"$PY" -m torch.distributed.run --standalone --nproc_per_node 1 -m mmcse train --data-root "$data" \
    --features valor --preset paper-mmcse --device "$DEVICE" --no-progress --epochs 1 --out "$OUT/run_ddp"
cat "$run/metrics.csv" | cut -d, -f1,3,13,20

step "evaluate: the stored val metrics, reproduced on $DEVICE"
"$PY" -m mmcse evaluate --checkpoint "$run/best.safetensors" --data-root "$data" --split val --device "$DEVICE"

step "bench"
"$PY" -m mmcse bench --device "$DEVICE" --iters 20 --e2e --bf16

step "the shipped demo checkpoint: $DEVICE probabilities against the CPU's"
"$PY" - "$DEVICE" <<'EOF'
import sys, time
import numpy as np
from mmcse.inference import Parser
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
dev = sys.argv[1]
probs = {}
for d in ("cpu", dev):
    parser = Parser.from_checkpoint("assets/demo/runs/mmcse/best.safetensors", device=d)
    split = open_split(DataPaths.from_root("assets/demo", parser.feature_spec), "test")
    parser.predict_split(split)  # warm-up
    t0 = time.perf_counter()
    probs[d] = parser.predict_split(split)
    print(f"{d}: {len(split)} clips predicted in {time.perf_counter() - t0:.3f} s")
diff = max(np.abs(getattr(probs[dev], k) - getattr(probs["cpu"], k)).max()
           for k in ("video_prob", "audio_prob", "visual_prob", "segment_prob"))
print(f"max |{dev} - cpu| over the probabilities: {diff:.2e}")
assert diff < 1e-4, "the GPU's probabilities differ from the CPU's"
EOF

step "parse a demo video on $DEVICE"
if "$PY" -c "import imageio_ffmpeg" 2>/dev/null; then
    video=$(ls assets/demo/videos/*.mp4 | head -n 1)
    "$PY" -m mmcse parse "$video" --checkpoint assets/demo/runs/mmcse/best.safetensors --device "$DEVICE" \
        --out "$OUT/parsed"
else
    echo "skipped: imageio-ffmpeg not importable here (carry its wheel to check video parsing)"
fi
step "done"
