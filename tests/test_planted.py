"""The planted-cell task: the teacher is deterministic from its seed, its ops show in its labels, and the
search's data path loads it by name."""

import dataclasses

import pytest
import torch

from sdas_lib.core.genotype import Genotype
from sdas_lib.core.recovery import planted_genotype, planted_teacher
from sdas_lib.errors import SdasError
from sdas_lib.nets.teacher import teacher_labels, teacher_network
from sdas_lib.run.inputs import load_run_data
from sdas_lib.run.presets import MICRO

X = torch.randn(384, 3, 8, 8, generator=torch.Generator().manual_seed(123))


def labels(genotype, seed):
    return teacher_labels(teacher_network(genotype, seed), X, X)


def test_the_teacher_is_deterministic_from_its_seed_and_seeds_differ():
    g = planted_genotype(0)
    a, b, c = labels(g, 0), labels(g, 0), labels(g, 1)
    assert torch.equal(a, b)
    assert (a != c).float().mean() > 0.3  # another seed: other weights, mostly other labels
    assert len(a.unique()) >= 8  # standardized logits spread the inputs over the classes


def test_the_teacher_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    teacher_network(planted_genotype(0), 0)
    assert torch.equal(torch.rand(3), expected)


def test_teachers_plant_different_cells():
    assert planted_genotype(0) != planted_genotype(1)
    assert planted_genotype(2) == planted_genotype(2)
    assert (planted_teacher("planted"), planted_teacher("planted-3"), planted_teacher("digits")) == (0, 3, None)
    with pytest.raises(SdasError, match="planted-<teacher number>"):
        planted_teacher("planted-x")


def test_an_op_of_another_kind_changes_the_labels():
    """Identifiability: swapping one planted edge's op for one of another kind (conv -> pool, pool -> skip)
    relabels a good share of the inputs, so the labels carry the kinds the recovery measure scores."""
    g = planted_genotype(0)
    d = g.to_dict()
    node = d["cells"]["normal"]["nodes"][3]  # the last node: its output reaches the classifier directly
    op = node[0][0]
    node[0][0] = "max_pool_3x3" if op.startswith(("sep", "dil", "skip")) else "sep_conv_3x3"
    other = Genotype.from_dict(d)
    assert other != g
    changed = (labels(g, 0) != labels(other, 0)).float().mean()
    assert changed > 0.1, f"only {changed:.0%} of the labels changed with {op} -> {node[0][0]}"


def test_the_search_data_path_loads_a_planted_set():
    data = load_run_data(dataclasses.replace(MICRO, dataset="planted-2"))
    assert data.name == "planted-2" and data.num_classes == 10 and data.input_shape == (3, 8, 8)
    assert str(planted_genotype(2)["normal"]) in data.description
    again = load_run_data(dataclasses.replace(MICRO, dataset="planted-2"))
    assert torch.equal(data.train.tensors[1], again.train.tensors[1])
