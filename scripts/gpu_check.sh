#!/usr/bin/env bash
# GPU check for BDGF, <= 8 minutes on one CUDA GPU. See docs/GPU.md.
#
#   scripts/gpu_check.sh [OUT_DIR]        (default OUT_DIR: $OUT, else outputs/gpu)
#
# 1. bdgf-bench --device cuda: scan, training steps, features, inference, step profile (JSON + table)
# 2. selective scan on CUDA against the sequential reference (fp64 on CPU): outputs and gradients
# 3. one epoch (DDPM + BDGF) of the `paper` preset on houston2018_west, bf16 autocast (device.autocast)
# Each step has its own time limit so that one slow step cannot eat the others' budget.
# Needs: the package installed (pip install -e .), a CUDA torch, houston2018_west's scene.npz where
# data_catalog.yaml says, or SCENE_NPZ=/path/to/scene.npz (copied there).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-outputs/gpu}}"
PY="${PYTHON:-python}"
mkdir -p "$OUT_DIR"
status=0
step() {  # step NAME SECONDS COMMAND...: run with a limit, log to OUT_DIR/NAME.log, remember failures
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s)"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$OUT_DIR/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$OUT_DIR/summary.txt"
  [ "$rc" -eq 0 ] || status=1
}

"$PY" - <<'PY' | tee "$OUT_DIR/device.txt" || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device: this script checks the GPU path"
print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), "bf16:", torch.cuda.is_bf16_supported())
try:
    import mamba_ssm
    print("mamba_ssm", mamba_ssm.__version__)
except ImportError:
    print("mamba_ssm not installed: the scan runs the reference path on CUDA")
PY

SCENE=$("$PY" -c "from bdgf_nb.data.catalog import catalog_entry; print(catalog_entry('houston2018_west').files()[0])")
if [ ! -f "$SCENE" ] && [ -n "${SCENE_NPZ:-}" ]; then
  mkdir -p "$(dirname "$SCENE")" && cp "$SCENE_NPZ" "$SCENE"
fi

step bench 240 "$PY" -m bdgf_nb.cli.bench --device cuda --quick --profile --only scan,training,features,inference --out "$OUT_DIR/bench_cuda.json"

step scan_check 60 "$PY" - <<'PY'
import torch
from bdgf_nb.model.scan import resolve_backend, selective_scan, selective_scan_reference
g = torch.Generator().manual_seed(0)
b, d, n = 64, 64, 16
worst = 0.0
for length in (6, 17, 128):
    cpu = [torch.randn(b, d, length, generator=g), torch.randn(b, d, length, generator=g) * 0.5 - 2.0,
           -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1), torch.randn(b, n, length, generator=g),
           torch.randn(b, n, length, generator=g), torch.ones(d), torch.randn(b, d, length, generator=g), torch.rand(d, generator=g) - 4.0]
    ref_in = [t.double().requires_grad_() for t in cpu]
    cuda_in = [t.cuda().requires_grad_() for t in cpu]
    grad = torch.randn(b, d, length, generator=g)
    ref = selective_scan_reference(*ref_in, delta_softplus=True)
    got = selective_scan(*cuda_in, delta_softplus=True, backend="auto")
    ref_grads = torch.autograd.grad(ref, ref_in, grad.double())
    got_grads = torch.autograd.grad(got, cuda_in, grad.cuda())
    for name, a, r in [("y", got, ref), *zip(("du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias"), got_grads, ref_grads)]:
        rel = ((a.double().cpu() - r.detach()).abs().max() / r.detach().abs().max()).item()
        worst = max(worst, rel)
        print(f"length {length:4d} backend {resolve_backend('auto', cuda_in[0]):9s} {name:12s} max rel err {rel:.2e}")
print(f"worst {worst:.2e}")
assert worst < 1e-4, f"CUDA scan disagrees with the fp64 reference: {worst:.2e}"
PY

step paper_epoch 300 "$PY" - "$OUT_DIR" <<'PY'
import json, sys, time
from dataclasses import replace
from pathlib import Path
import torch
from bdgf_nb.pipeline import steps
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.presets import preset
out = Path(sys.argv[1])
paper = preset("paper")
one = replace(paper, pretrain=replace(paper.pretrain, epochs=1), train=replace(paper.train, epochs=1))
ctx = RunContext("houston2018_west", one, seed=0, out_dir=out / "paper_run")
seconds, state = {}, {}
stages = {
    "prepare": lambda: state.update(p=pipeline.prepare(ctx)),
    "pretrain_ddpm_1_epoch": lambda: state.update(d=pipeline.pretrain_ddpm(ctx, state["p"], "adaptive", progress=False)),
    "features": lambda: state.update(f=pipeline.extract_diffusion_features(ctx, state["p"], state["d"], progress=False)),
    "train_bdgf_1_epoch": lambda: state.update(r=pipeline.train_variant(ctx, state["p"], state["f"], "bdgf", progress=False)),
    "scene_map": lambda: pipeline.predict_scene(state["p"], state["r"], state["f"]),
}
for name, stage in stages.items():
    torch.cuda.synchronize(); start = time.perf_counter()
    stage()
    torch.cuda.synchronize(); seconds[name] = time.perf_counter() - start
    print(f"{name}: {seconds[name]:.1f} s", flush=True)
report = {"device": torch.cuda.get_device_name(0), "preset": "paper, 1 DDPM epoch + 1 classifier epoch", "autocast": "bf16" if torch.cuda.is_bf16_supported() else "none",
          "parameters": sum(p.numel() for p in state["r"].model.parameters()), "stages_s": seconds,
          "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30, "test_oa_after_1_epoch": state["r"].report["overall_accuracy"]}
(out / "paper_epoch.json").write_text(json.dumps(report, indent=2))
print(json.dumps(report, indent=2))
PY

echo "results in $OUT_DIR (summary.txt, bench_cuda.json, paper_epoch.json, *.log)"
exit $status
