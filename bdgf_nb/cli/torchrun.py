"""Entry point for torchrun: pretrain the DDPM or train a classifier of a catalog scene with the
notebooks' presets. Checkpoints land where the notebooks look for them, so a notebook run
afterwards reloads the result instead of training again.

    torchrun --standalone --nproc_per_node=2 -m bdgf_nb.cli.torchrun pretrain --dataset synthetic --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bdgf_nb import openmp


def main(argv: list[str] | None = None) -> int:
    openmp.apply_shared_default()  # before torch loads: the launched processes share the cores
    from bdgf_nb.model.bdgf import ABLATIONS
    from bdgf_nb.pipeline import steps
    from bdgf_nb.pipeline.context import RunContext
    from bdgf_nb.pipeline.variants import Variant
    from bdgf_nb.train.distributed import barrier, is_main, process_group, world_size

    parser = argparse.ArgumentParser(
        prog="python -m bdgf_nb.cli.torchrun",
        description="Pretrain the DDPM or train a classifier with DDP (launch under torchrun).",
    )
    parser.add_argument("task", choices=("pretrain", "train"))
    parser.add_argument("--dataset", default="synthetic", help="catalog dataset name")
    parser.add_argument("--quick", action="store_true", help="the quick preset (CI size)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--masking", default="adaptive", help="DDPM masking mode: none | random | adaptive")
    parser.add_argument(
        "--variant",
        nargs="+",
        choices=sorted(ABLATIONS),
        default=["bdgf"],
        help="train: BDGF, or the ablations to apply to it (e.g. cnn_only no_guidance)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("outputs"), help="the notebooks' out_dir (per dataset: OUT/<dataset>)"
    )
    args = parser.parse_args(argv)

    variant = Variant(" + ".join(args.variant), tuple(args.variant))
    ctx = RunContext.create(args.dataset, args.quick, args.seed, args.out / args.dataset)
    with process_group():
        prepared = steps.prepare(ctx)
        ddpm = steps.pretrain_ddpm(ctx, prepared, args.masking, progress=is_main())
        if args.task == "pretrain":
            if is_main():
                print(
                    f"[{world_size()} process(es)] pretrained in {ddpm.seconds:.1f} s, "
                    f"final loss {ddpm.history[-1]['loss']:.4f}"
                )
            return 0
        # rank 0 writes the feature cache first; the others read it after the barrier
        features = steps.extract_diffusion_features(ctx, prepared, ddpm, progress=True) if is_main() else None
        barrier()
        if features is None:
            features = steps.extract_diffusion_features(ctx, prepared, ddpm, progress=False)
        # checkpoint names come from the RunContext, so a notebook run afterwards reuses them
        run = steps.train_variant(ctx, prepared, features, variant, progress=is_main())
        if is_main():
            print(f"[{world_size()} process(es)] {variant.key}: {run.row()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
