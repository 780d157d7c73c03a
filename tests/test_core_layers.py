"""The torch-free core: its modules load without torch, ops or nets; its op-set table agrees with the
builders' registry; op-set names, genotypes and channel plans work from the table alone."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import sdas_lib.core
import sdas_lib.ops  # registers the builders
from sdas_lib.core.genotype import DARTS_V2, Genotype
from sdas_lib.core.layout import cell_plan, image_layout
from sdas_lib.core.opsets import OP_SET_TABLE, STORED_NAMES, stored_op_set_name
from sdas_lib.errors import SdasError
from sdas_lib.ops import OP_SETS

ROOT = Path(__file__).resolve().parents[1]
CORE_MODULES = ["opsets", "space", "layout", "genotype", "schedule", "discretization", "counting", "history", "verdicts", "paper", "random_cells", "recovery", "agreement"]
# Names that must not be in sys.modules after importing a core module.
HEAVY = "n == 'torch' or n.startswith('torch.') or n.split('.')[:2] in (['sdas_lib', 'ops'], ['sdas_lib', 'nets'])"


def fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_every_core_module_is_checked():
    assert sorted(m.name for m in pkgutil.iter_modules(sdas_lib.core.__path__)) == sorted(CORE_MODULES)


@pytest.mark.parametrize("module", ["sdas_lib", "sdas_lib.core"] + [f"sdas_lib.core.{m}" for m in CORE_MODULES])
def test_core_module_loads_without_torch_ops_or_nets(module):
    r = fresh_python(
        f"import importlib, sys; importlib.import_module({module!r}); "
        f"print(' '.join(sorted(n for n in sys.modules if {HEAVY})))"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"importing {module} loaded: {r.stdout.strip()}"


def test_the_check_would_see_torch():
    r = fresh_python(f"import sys, sdas_lib.ops; print(' '.join(sorted(n for n in sys.modules if {HEAVY})))")
    assert r.returncode == 0, r.stderr
    assert {"torch", "sdas_lib.ops", "sdas_lib.ops.o2d"} <= set(r.stdout.split())


def test_op_set_table_equals_the_builders_registry():
    assert set(OP_SET_TABLE) == set(OP_SETS) and OP_SET_TABLE
    for name, info in OP_SET_TABLE.items():
        reg = OP_SETS[name]
        assert info.name == reg.name == name
        assert info.ndim == reg.ndim, name
        assert info.names == reg.names, name  # same ops in the same order: α's columns
        assert info.ops == tuple((op, reg.kind(op)) for op in reg.names), name
        assert [info.index(op) for op in info.names] == [reg.index(op) for op in reg.names]


# -- op-set names -------------------------------------------------------------------------------


@pytest.mark.parametrize("task, op_set", [("image", "o2d"), ("image", "O2D"), ("Image", "o2d")])
def test_stored_name_of_the_image_set(task, op_set):
    assert stored_op_set_name(task, op_set) == "o2d"


def test_unknown_short_name_lists_the_choices():
    with pytest.raises(SdasError) as err:
        stored_op_set_name("image", "o9d")
    assert str(err.value) == "unknown op set 'o9d' for --task image; choose one of: 'o2d'"
    with pytest.raises(SdasError) as err:
        stored_op_set_name("video", "o9d")
    assert "choose one of: 'o2d', 'o3d', 'oadv'" in str(err.value)


def test_unknown_task_lists_the_tasks():
    with pytest.raises(SdasError) as err:
        stored_op_set_name("audio", "o2d")
    assert str(err.value) == "unknown task 'audio'; choose one of: 'image', 'video'"


@pytest.mark.parametrize("op_set, stored", [("o2d", "video_o2d"), ("o3d", "video_o3d"), ("O3D", "video_o3d"),
                                             ("video_o3d", "video_o3d"), ("oadv", "video_oadv")])
def test_stored_names_of_the_video_sets(op_set, stored):
    assert stored_op_set_name("video", op_set) == stored


@pytest.mark.parametrize("op_set", ["o3d", "O3D", "video_o3d"])
def test_a_set_without_builders_says_so(op_set, monkeypatch):
    monkeypatch.delitem(OP_SET_TABLE, "video_o3d")  # as before sdas_lib/ops/video.py existed
    with pytest.raises(SdasError) as err:
        stored_op_set_name("video", op_set)
    assert str(err.value) == (
        f"op set 'video_o3d' (--task video --op-set {op_set.lower()}) has no ops in this sdas_lib yet; "
        "available: 'o2d', 'video_o2d', 'video_oadv'"
    )


def test_stored_names_are_settled():
    assert STORED_NAMES == {
        ("image", "o2d"): "o2d", ("video", "o2d"): "video_o2d", ("video", "o3d"): "video_o3d",
        ("video", "oadv"): "video_oadv",
    }


# -- genotypes from the table alone ----------------------------------------------------------------


def test_genotype_loads_in_a_fresh_interpreter_without_torch():
    r = fresh_python(
        "import sys\n"
        "from sdas_lib.core.genotype import DARTS_V2, Genotype\n"
        "g = Genotype.from_json(DARTS_V2.to_json())\n"
        "assert g == DARTS_V2, g\n"
        "print(g.op_set, len(g.cells), 'torch' in sys.modules)\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["o2d", "2", "False"]


def test_genotype_round_trip_here():
    assert Genotype.from_json(DARTS_V2.to_json()) == DARTS_V2


# -- channel plans -------------------------------------------------------------------------------------


def test_cell_plan_of_a_small_image_network():
    plans = cell_plan(image_layout(1), {"normal": 1, "reduce": 2}, C_stem=8, C=4, concat={"normal": 4, "reduce": 4})
    got = [(p.index, p.cell_type, p.C_pp, p.C_p, p.C, p.C_out, p.stride, p.prev_stride) for p in plans]
    assert got == [
        # index, type,   C_pp, C_p, C,  C_out, stride, prev_stride
        (0, "normal", 8, 8, 4, 16, 1, 1),
        (1, "reduce", 8, 16, 8, 32, 2, 1),
        (2, "normal", 16, 32, 8, 32, 1, 2),
        (3, "reduce", 32, 32, 16, 64, 2, 1),
        (4, "normal", 32, 64, 16, 64, 1, 2),
    ]
    assert [p.reduction for p in plans] == [False, True, False, True, False]
    assert [p.reduction_prev for p in plans] == [False, False, True, False, True]


def test_odd_width_where_a_factorized_reduction_is_used_is_refused():
    strides, concat = {"normal": 1, "reduce": 2}, {"normal": 4, "reduce": 4}
    # An odd width is fine where no factorized reduction reads it (each reduction doubles it)...
    assert [p.C for p in cell_plan(image_layout(1), strides, 8, 3, concat)] == [3, 6, 6, 12, 12]
    # ... but not when the first cell's s0 must be reduced (the ImageNet stem's stride 2).
    with pytest.raises(SdasError, match=r"per-node width 3 of cell 0 \(normal\) must be even"):
        cell_plan(image_layout(1), strides, 8, 3, concat, stem_prev_stride=2)
    with pytest.raises(SdasError, match="K .* must be >= 1"):
        image_layout(0)
