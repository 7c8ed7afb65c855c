#!/usr/bin/env bash
# The GPU benchmark in one command on one H100/H200, in under 8 minutes, writing one JSON:
#   - ResNet-50 training at batch 256 in bfloat16: ours (JAX) against PyTorch AMP channels_last,
#     eager and torch.compile;
#   - SSD300 (batch 64) and Faster R-CNN R50-FPN (batch 16 at 800 x 800), bfloat16/AMP: ours against
#     torchvision's own detectors (and, for SSD300, our PyTorch transcription of our SSD300);
# each row with train img/s (median of synchronised steps), compile s, eval img/s (decoding + NMS
# included) and device peak MB. Also fills the "GPU, bfloat16" table of benchmarks/RESULTS.md.
#
#   bash benchmarks/gpu.sh [OUT.json]          # default benchmarks/results_gpu.json
#
# Needs jax with CUDA, flax, optax, orbax-checkpoint, ml-collections, absl-py, torch and torchvision
# with CUDA; no TensorFlow. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benchmarks/results_gpu.json}
python=${PYTHON:-python3}
common=(--dtype=bfloat16 --warmup=3 --steps=10 --eval_steps=5 --timeout=240 --label="GPU, bfloat16" --out="$out")
"$python" benchmarks/run.py --models=resnet50 --frameworks=jax,torch,torch_compile --batch=256 "${common[@]}"
"$python" benchmarks/run.py --models=ssd300,faster_rcnn,retinanet --frameworks=jax,torch,torchvision --append "${common[@]}"
