"""Running searches and retrainings (layer ``run``): presets, the run-loop base, the search loop
(Algorithm 1), the retraining loop, run folders and checkpoints. Imports every layer below."""
