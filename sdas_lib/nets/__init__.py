"""Networks: the search supernet, the evaluation networks and their sizes (layer ``nets``).

Imports ``core`` and ``ops``. The search network and the evaluation networks are separate classes
that share the op registry and the channel bookkeeping (:mod:`sdas_lib.nets.stacking`).
"""
