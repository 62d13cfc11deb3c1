"""The layers' import rules, read from the source (`ast`), following npsynth's own imports:
the maths imports no I/O, image file, network, weights or hub module, and the pyramid no
method, first reference or hub module (issue 36).

Every `import` counts, those inside functions too. An import of `npsynth.a.b` follows the
module `a/b.py`, not the package facades above it (`npsynth/__init__.py` imports everything);
an import of a package's own names (`from npsynth.config import X`) follows its `__init__`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "npsynth"

# The pure maths: arrays in, arrays out (NumPy, JAX, jaxopt), no I/O, no network.
MATHS = (
    "npsynth.conventions", "npsynth.losses", "npsynth.patches", "npsynth.window",
    "npsynth.solver", "npsynth.fill",
)  # fmt: skip
# ... and what else the maths may import from npsynth: the settings' checks and records (plain
# dataclasses, no JAX, no I/O; the solver's `SolverOptions` is `OptimizeConfig.solver`).
MATHS_MAY_USE = {
    *MATHS,
    "npsynth.config.checks",
    "npsynth.config.pyramid",
    "npsynth.config.optimize",
}
# Packages that read or write files, decode images, download, or build networks.
NOT_FOR_MATHS = {
    "PIL", "imageio", "cv2", "h5py", "pickle", "pathlib", "shutil", "tempfile", "urllib",
    "requests", "flax", "torch",
}  # fmt: skip
# What the pyramid must not know: the methods, the first reference and where networks come from.
NOT_FOR_THE_PYRAMID = ("npsynth.methods", "npsynth.reference", "npsynth.hub", "npsynth.models",
                       "npsynth.weights", "npsynth.api")  # fmt: skip


def _path(module: str, root: Path) -> Path | None:
    """The file of npsynth module `module` under `root` (the `npsynth` folder), or None."""
    parts = module.split(".")[1:]
    base = root.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(module: str, root: Path) -> set[str]:
    """Every module `module`'s source imports (absolute names; `from . import` resolved)."""
    path = _path(module, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # a submodule when there is one, else the package's name
                name = f"{base}.{alias.name}"
                is_module = base.startswith("npsynth") and _path(name, root) is not None
                found.add(name if is_module else base)
    return found


def closure(module: str, root: Path = SOURCE) -> set[str]:
    """`module` and every module it imports, following npsynth's own modules."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if current.split(".")[0] == "npsynth" and _path(current, root) is not None:
            todo.extend(_imports(current, root) - seen)
    return seen


def maths_violations(root: Path = SOURCE) -> dict[str, list[str]]:
    """maths module -> what it reaches that the maths may not (empty when the rule holds)."""
    out = {}
    for module in MATHS:
        if _path(module, root) is None:
            out[module] = ["(missing)"]
            continue
        reached = closure(module, root)
        bad = [m for m in reached if m.startswith("npsynth") and m not in MATHS_MAY_USE]
        bad += [m for m in reached if m.split(".")[0] in NOT_FOR_MATHS]
        if bad:
            out[module] = sorted(bad)
    return out


def pyramid_violations(root: Path = SOURCE) -> list[str]:
    """What npsynth.pyramid reaches that it may not."""
    reached = closure("npsynth.pyramid", root)
    return sorted(m for m in reached if m.startswith(NOT_FOR_THE_PYRAMID))


def test_the_maths_imports_no_io_network_or_hub():
    assert maths_violations() == {}


def test_the_pyramid_imports_no_method_reference_or_hub():
    assert pyramid_violations() == []


def test_the_rules_see_through_imports(tmp_path):
    """The checker itself, on a made-up package: an import inside a function, a relative one
    and one through another npsynth module are all seen."""
    package = tmp_path / "npsynth"
    (package / "methods").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "losses.py": "from npsynth import patches\n",
        "patches.py": "def f():\n    from .masks import g\n",
        "masks.py": "from PIL import Image\ndef g(): pass\n",
        "conventions.py": "import numpy\n",
        "window.py": "from npsynth.losses import f\n",
        "solver.py": "from npsynth.config.checks import c\n",
        "fill.py": "import jax\n",
        "pyramid.py": "from npsynth import resize\n",
        "resize.py": "import numpy\ndef h():\n    from npsynth.methods import optimize\n",
        "methods/__init__.py": "",
        "methods/optimize.py": "import flax\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    found = maths_violations(package)
    assert found["npsynth.patches"] == ["PIL", "npsynth.masks"]
    assert found["npsynth.losses"] == found["npsynth.window"][:2] == ["PIL", "npsynth.masks"]
    assert "npsynth.conventions" not in found and "npsynth.fill" not in found
    assert pyramid_violations(package) == ["npsynth.methods.optimize"]


@pytest.mark.parametrize("module", MATHS)
def test_each_maths_module_exists(module):
    """A renamed maths module must be renamed here too, not silently dropped from the rule."""
    assert _path(module, SOURCE) is not None
