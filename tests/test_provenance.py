"""Provenance: the first output of every notebook names the run that made its numbers."""

import torch

from sdas_lib.provenance import cpu_model, git_commit, provenance, provenance_line


def test_provenance_names_date_commit_versions_and_machine():
    p = provenance()
    assert set(p) >= {"date", "commit", "torch", "cpu", "cores", "torch_threads"}
    assert p["torch"] == torch.__version__ and p["torch_threads"] == torch.get_num_threads()
    line = provenance_line()
    assert f"commit {p['commit']}" in line and f"torch {torch.__version__}" in line and cpu_model() in line


def test_the_commit_is_named_or_said_unknown(tmp_path):
    here = git_commit()
    assert here.startswith("unknown") or len(here.split("+")[0]) == 10
    assert git_commit(tmp_path).startswith("unknown")  # not a git checkout
