"""The installed package holds every subpackage: a folder of modules without __init__.py imports
from the source tree but is left out of a wheel by ``packages.find``."""

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_of_modules_is_a_package_that_pyproject_installs():
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "sdas_lib").rglob("*.py") if "__pycache__" not in p.parts
    }
    found = set(find_packages(str(ROOT), include=["sdas_lib*"]))  # pyproject: packages.find include sdas_lib*
    assert folders == found, f"folders without __init__.py: {sorted(folders - found)}"
    assert {"sdas_lib.core", "sdas_lib.ops", "sdas_lib.nets", "sdas_lib.data", "sdas_lib.run"} <= found
    assert 'include = ["sdas_lib*"]' in (ROOT / "pyproject.toml").read_text()


# Each layer may import from itself and the layers listed (the ground floor: errors, files).
ALLOWED = {
    "core": {"core"},
    "ops": {"core", "ops"},
    "nets": {"core", "ops", "nets"},
    "data": {"core", "data"},
    "run": {"core", "ops", "nets", "data", "run"},
    "viz": {"core", "viz"},
    "widgets": {"core", "viz", "widgets"},
}
GROUND = {"errors", "files", "__version__"}  # __version__: the package root's attribute


def _sdas_imports(path: Path) -> set[str]:
    """The first component under sdas_lib of every sdas_lib module ``path`` imports (relative or absolute)."""
    import ast

    package = path.parent.relative_to(ROOT).parts  # ("sdas_lib", layer)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts] if node.module else [base + [a.name] for a in node.names]
            elif node.module and node.module.startswith("sdas_lib"):
                names = [node.module.split(".")]
            else:
                continue
            out |= {n[1] for n in names if len(n) > 1}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("sdas_lib.")}
    return out


def test_each_layer_imports_only_its_own_layer_or_below():
    wrong = {}
    for layer, allowed in ALLOWED.items():
        for path in sorted((ROOT / "sdas_lib" / layer).glob("*.py")):
            bad = _sdas_imports(path) - allowed - GROUND
            if bad:
                wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert not wrong, f"imports from a higher layer: {wrong}"
    for ground in ("errors", "files"):  # the ground floor imports no other part of sdas_lib
        assert not _sdas_imports(ROOT / "sdas_lib" / f"{ground}.py") - {ground}


def test_the_layer_check_sees_relative_imports_of_every_form():
    assert _sdas_imports(ROOT / "sdas_lib" / "nets" / "supernet.py") >= {"core", "ops", "nets", "errors"}
    assert "run" in _sdas_imports(ROOT / "sdas_lib" / "cli.py")  # imports inside functions count too
    assert _sdas_imports(ROOT / "sdas_lib" / "ops" / "__init__.py") >= {"ops"}  # from . import o2d
