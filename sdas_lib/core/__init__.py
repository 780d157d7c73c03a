"""The torch-free core (layer ``core``): search space, layouts, op-set table, genotype, schedules,
one-step discretization, counting and the replayable history.

Nothing here imports torch, ``sdas_lib.ops`` or ``sdas_lib.nets``: counting, schedules, genotypes and
the replay of a search load in a fraction of a second. α/β are taken as anything with ``tolist()``.
"""
