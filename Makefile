# The two commands of the README. Both set everything up first (tools/setup.sh, idempotent).
.PHONY: run test test-fast setup lab figures calibration screenshot clean

setup:
	@bash tools/setup.sh

# Main job: every notebook of the course, in order, on the CPU with the embedded data; executed
# copies go to build/notebooks, runs to runs/course (reused when run again), figures to figures/.
run: setup
	.venv/bin/python -m sdas_lib.course

# The whole test suite, slow tests included.
test: setup
	.venv/bin/python -m pytest -q

# Inner loop: everything but the slow end-to-end tests.
test-fast: setup
	.venv/bin/python -m pytest -q -m "not slow"

# Benchmarks that write figures/ (Table 2 and the course's other figures come from `make run`;
# benchmarks/stability.py judges the report on two seed sets after it).
figures: setup
	.venv/bin/python benchmarks/supernet_iteration.py --rounds 9 --profile
	.venv/bin/python benchmarks/search_cost.py --threads 1
	.venv/bin/python benchmarks/course_search_paths.py
	.venv/bin/python benchmarks/tiny_decisions.py
	.venv/bin/python benchmarks/distributed.py

# The calibration of the tiny regime (issue 23): the image screen, the moving digits' one, then the
# 5-seed confirmation at the chosen point; resumable
# (runs/calibration), about two hours of a 2-core machine; writes figures/calibration*.csv/png.
calibration: setup
	.venv/bin/python benchmarks/calibration.py
	.venv/bin/python benchmarks/calibration.py --task video
	.venv/bin/python benchmarks/calibration.py --confirm

# The stepper in JupyterLab, as the browser test sees it, replaying the course's tiny searches of seed 0
# (after make run): figures/stepper_jupyterlab.png (the README shows it).
screenshot: setup
	SDAS_STEPPER_RUNS=runs/course SDAS_STEPPER_SCREENSHOT=figures/stepper_jupyterlab.png .venv/bin/python -m pytest -q tests/test_browser.py -k stepper

lab: setup
	.venv/bin/jupyter lab

clean:
	rm -rf runs build .pytest_cache
