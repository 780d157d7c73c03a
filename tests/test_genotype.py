import json

import pytest

from sdas_lib.errors import SdasError
from sdas_lib.core.genotype import DARTS_V1, DARTS_V2, Genotype, resolve_genotype


def good():
    return json.loads(DARTS_V2.to_json())


def test_json_round_trip_and_readable_string():
    again = Genotype.from_json(DARTS_V2.to_json())
    assert again == DARTS_V2 and hash(again) == hash(DARTS_V2)
    text = str(DARTS_V2)
    assert "normal: n2=sep_conv_3x3(0)+sep_conv_3x3(1)" in text
    assert "n5=skip_connect(0)+dil_conv_3x3(2)" in text and "concat 2,3,4,5" in text


def test_reference_genotypes_match_the_published_v2_listing():
    # docs/paper_notes.md "Reference facts", node by node, each node's pairs sorted by input index.
    assert DARTS_V2.op_set == "o2d" and DARTS_V2.cell_types == ("normal", "reduce")
    assert DARTS_V2["normal"].nodes == (
        (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)),  # node 2
        (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)),  # node 3
        (("skip_connect", 0), ("sep_conv_3x3", 1)),  # node 4
        (("skip_connect", 0), ("dil_conv_3x3", 2)),  # node 5
    )
    assert DARTS_V2["reduce"].nodes == (
        (("max_pool_3x3", 0), ("max_pool_3x3", 1)),  # node 2
        (("max_pool_3x3", 1), ("skip_connect", 2)),  # node 3
        (("max_pool_3x3", 0), ("skip_connect", 2)),  # node 4
        (("max_pool_3x3", 1), ("skip_connect", 2)),  # node 5
    )
    assert DARTS_V2["normal"].concat == DARTS_V2["reduce"].concat == (2, 3, 4, 5)
    assert resolve_genotype("darts_v2") == DARTS_V2


def test_reference_genotypes_match_the_published_v1_listing():
    # DARTS' genotypes.py (first order), each node's pairs sorted by input index.
    assert DARTS_V1.op_set == "o2d" and DARTS_V1.cell_types == ("normal", "reduce")
    assert DARTS_V1["normal"].nodes == (
        (("sep_conv_3x3", 0), ("sep_conv_3x3", 1)),  # node 2
        (("skip_connect", 0), ("sep_conv_3x3", 1)),  # node 3
        (("skip_connect", 0), ("sep_conv_3x3", 1)),  # node 4
        (("sep_conv_3x3", 0), ("skip_connect", 2)),  # node 5
    )
    assert DARTS_V1["reduce"].nodes == (
        (("max_pool_3x3", 0), ("max_pool_3x3", 1)),  # node 2
        (("max_pool_3x3", 0), ("skip_connect", 2)),  # node 3
        (("max_pool_3x3", 0), ("skip_connect", 2)),  # node 4
        (("avg_pool_3x3", 0), ("skip_connect", 2)),  # node 5
    )
    assert DARTS_V1["normal"].concat == DARTS_V1["reduce"].concat == (2, 3, 4, 5)
    assert resolve_genotype("darts_v1") == DARTS_V1 and DARTS_V1 != DARTS_V2


def test_unknown_op_names_cell_node_and_op():
    d = good()
    d["cells"]["normal"]["nodes"][1][0][0] = "sep_conv_9x9"
    with pytest.raises(SdasError, match=r"unknown op 'sep_conv_9x9' in cell 'normal', node 3 .*choose one of"):
        Genotype.from_dict(d)


def test_input_out_of_range_names_cell_and_node():
    d = good()
    d["cells"]["reduce"]["nodes"][0][1][1] = 2  # node 2 can only read 0 and 1
    with pytest.raises(SdasError, match=r"input 2 out of range in cell 'reduce', node 2: inputs must be node indices 0\.\.1"):
        Genotype.from_dict(d)


def test_wrong_number_of_inputs():
    d = good()
    d["cells"]["normal"]["nodes"][2].append(["skip_connect", 3])
    with pytest.raises(SdasError, match=r"cell 'normal', node 4 has 3 inputs; each node needs exactly k=2"):
        Genotype.from_dict(d)


def test_missing_cell_type():
    d = good()
    del d["cells"]["reduce"]
    with pytest.raises(SdasError, match=r"do not match the network's 'normal', 'reduce'; missing cell type 'reduce'"):
        Genotype.from_dict(d, cell_types=("normal", "reduce"))


def test_duplicate_input_bad_json_and_missing_file(tmp_path):
    d = good()
    d["cells"]["normal"]["nodes"][0] = [["skip_connect", 0], ["sep_conv_3x3", 0]]
    with pytest.raises(SdasError, match="cell 'normal', node 2 reads input 0 twice"):
        Genotype.from_dict(d)
    with pytest.raises(SdasError, match="not valid JSON"):
        Genotype.from_json("{normal: [")
    with pytest.raises(SdasError, match="does not exist.*darts_v2"):
        Genotype.load(tmp_path / "nope.json")


def test_save_and_load(tmp_path):
    DARTS_V1.save(tmp_path / "g.json")
    assert Genotype.load(tmp_path / "g.json", cell_types=("normal", "reduce")) == DARTS_V1


def test_darts_form_is_what_the_darts_code_reads():
    from collections import namedtuple

    DartsGenotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")  # DARTS' genotypes.py
    # DARTS_V2 exactly as published in DARTS' genotypes.py.
    published = DartsGenotype(
        normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 1),
                ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
        normal_concat=[2, 3, 4, 5],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 0),
                ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
        reduce_concat=[2, 3, 4, 5],
    )
    text = DARTS_V2.to_darts()
    assert text.startswith("Genotype(normal=[(") and "normal_concat=[2, 3, 4, 5]" in text
    ours = eval(text, {"__builtins__": {}, "Genotype": DartsGenotype})  # how DARTS' train.py reads it
    for cell in ("normal", "reduce"):
        mine, theirs = getattr(ours, cell), getattr(published, cell)
        # DARTS reads the list two by two: node n has inputs 2n and 2n+1 (their order within a node is free).
        assert [set(mine[i:i + 2]) for i in range(0, 8, 2)] == [set(theirs[i:i + 2]) for i in range(0, 8, 2)]
        assert list(getattr(ours, f"{cell}_concat")) == list(getattr(published, f"{cell}_concat"))
    with pytest.raises(SdasError, match="only image genotypes"):
        Genotype.from_cells("o2d", {"normal": DARTS_V2["normal"].nodes}).to_darts()
