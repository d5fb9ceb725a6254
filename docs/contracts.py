"""Print the module table of docs/CONTRACTS.md from the package's docstrings and the names
notebooks import (run from the repo root: python docs/contracts.py)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from bdgf_nb import LAYERS

HEAD = (
    "# Module contracts (for contributors)\n"
    "\n"
    "Who owns what inside `bdgf_nb/`, and the names the notebooks import. Layers, low to high (`bdgf_nb.LAYERS`):\n"
    "root < data < ddpm < model < evaluate < train < analysis < presentation < pipeline < cli; a module imports only "
    "its own layer or lower ones (`tests/test_architecture.py`).\n"
    "Shapes: b batch, C stacked channels, p patch side, H/W scene size, K guidance depths, l sequence\n"
    "length. This table is regenerated from the modules' docstrings (`python docs/contracts.py`); "
    "`tests/test_architecture.py` fails when a module or a name a notebook\n"
    "imports is missing from it.\n"
    "\n"
)
TAIL = (
    "## Key interfaces\n"
    "\n"
    "- A run: `RunContext` (pipeline/context.py) made once per notebook by `pipeline.parameters.run_context`\n"
    "  from the papermill parameters; `pipeline.steps` and `pipeline.comparison` take it first. Checkpoints:\n"
    "  `RunContext.ddpm_checkpoint(scene, DDPMSource)`, `RunContext.classifier_checkpoint(scene,\n"
    "  variant, DDPMSource | None, seed)`.\n"
    "- Stacked input: `Scene.stacked()` (H, W, C) with channel groups `Scene.channels` (name -> n\n"
    "  channels, spectral first).\n"
    "- Diffusion features of a scene: `pipeline.steps.DiffusionFeatures` (K maps (G_k, H, W) float32 at\n"
    "  full scene resolution, and the `DDPMSource` they came from), cached on disk. Not to be confused\n"
    '  with a classifier\'s *branch features* f_k (`evaluate.predict.predict(...)["branch_features"]`).\n'
    "- A classifier: `forward(x: (b, C, p, p), guides: list[(b, G_k, p, p)]) -> BDGFOutput` with\n"
    "  per-branch `logits: list[(b, n_classes)]`, `features: list[(b, d)]`; `loss(output, y,\n"
    "  progress)`.\n"
    "- Training: `train.loop.run_epochs(train_epoch, Parts, LoopConfig, checkpoint, record)`; the two\n"
    "  steps plugged into it are `train.pretrain.ddpm_step` and `train.classifier.classifier_step`\n"
    "  (bdgf-bench times the same two).\n"
    "- Errors: raise a project exception (errors.py) naming the file / key / field, what was expected\n"
    "  and what was found; `tests/test_robustness.py` holds the table of bad inputs. Checkpoints:\n"
    "  `save_checkpoint` / `resume_state` (checkpoint.py), never `torch.save` to the final path.\n"
    "  Bit-exactness: docs/REPRODUCIBILITY.md.\n"
)


def main() -> str:
    """The whole of docs/CONTRACTS.md."""
    out = [HEAD]
    pkg = Path("bdgf_nb")
    order = LAYERS
    rows = []
    for sub in order:
        folder = pkg / sub if sub else pkg
        for f in sorted(folder.glob("*.py")):
            if f.name == "__init__.py" and sub:
                continue
            doc = ast.get_docstring(ast.parse(f.read_text())) or ""
            first = " ".join(doc.split("\n\n")[0].split())
            rows.append((str(f.relative_to(pkg)), first))
    imports: dict[str, set[str]] = {}
    for nb in sorted(Path("notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            try:
                tree = ast.parse("".join(cell["source"]))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bdgf_nb"):
                    imports.setdefault(node.module, set()).update(a.name for a in node.names)
    out.append("| module | job |\n|---|---|")
    for name, first in rows:
        out.append(f"| `{name}` | {first.replace('|', '/')} |")
    out.append("\n## Public names the notebooks import\n")
    out.append("| module | names |\n|---|---|")
    for mod in sorted(imports):
        out.append(f"| `{mod}` | {', '.join(f'`{n}`' for n in sorted(imports[mod]))} |")
    out.append("\n" + TAIL)
    return "\n".join(out)


if __name__ == "__main__":
    Path("docs/CONTRACTS.md").write_text(main())
