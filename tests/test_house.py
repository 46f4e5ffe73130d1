"""The house rules a maintainer relies on: imports point down the layers, the core needs no extras."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "agc"

#: The layers of the package (the README's table): a module may import only from its layer or below.
LAYERS = {
    1: ["agc._checks", "agc._io", "agc._parse", "agc._schur", "agc.code", "agc.assignments", "agc.failures", "agc.data",
        "agc.record", "agc.seeds", "agc.stats"],
    2: ["agc.encodings", "agc.decoding", "agc.bounds", "agc.sweep", "agc.plotting"],
    3: ["agc.engine", "agc.schemes", "agc.registry"],
    4: ["agc.training"],
    5: ["agc.runtime"],
    6: ["agc.cli"],
}


def layer_of(module):
    """The layer of a module ``agc.x.y`` (by its longest listed prefix)."""
    matches = [(len(prefix), layer) for layer, prefixes in LAYERS.items() for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1] if matches else None


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imported(path, name):
    """The ``agc`` modules imported by a file (``from agc import x`` counts as ``agc.x``)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if layer_of(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        yield from (t for t in targets if t.startswith("agc"))


def test_every_module_has_a_layer():
    unplaced = [name for name, _ in modules() if name != "agc" and layer_of(name) is None]
    assert unplaced == []


def test_no_import_points_up_a_layer():
    upward = []
    for name, path in modules():
        if name == "agc":  # the package's lazy attribute access imports any submodule on demand
            continue
        own = layer_of(name)
        for target in imported(path, name):
            target_layer = layer_of(target)
            if target_layer is not None and target_layer > own:
                upward.append(f"{name} (layer {own}) imports {target} (layer {target_layer})")
    assert upward == []


def test_the_core_imports_and_computes_without_the_extras():
    """``pip install agc`` without extras: no torch, scikit-learn, matplotlib, seaborn or papermill."""
    script = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"torch", "sklearn", "matplotlib", "seaborn", "papermill"}:
                    raise ImportError(f"{name} is blocked: not a core dependency")
        sys.meta_path.insert(0, Block())
        import agc
        A = agc.assignments.projective_plane(3)
        curve = agc.error_curve(lambda seed: agc.encodings.rdm(A, 2, seed=seed), s=[0, 3], trials=20, draws=3, seed=0)
        assert curve["draws"].tolist() == [3, 3] and (curve["mean"] > 0).all()
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("name", ["training", "runtime", "data", "sweep", "plotting", "record"])
def test_lazy_submodules(name):
    import agc

    assert getattr(agc, name).__name__ == f"agc.{name}"
