"""Shared test set-up."""

import os

# The tests train tiny models: one thread is as fast as two here (51 s against
# 50 s for the suite), and it stays fast on a busy machine, where two spinning
# OpenMP threads per process slowed the suite 20-fold. Set before torch is
# imported, so subprocesses (the command-line tests) inherit it too.
os.environ.setdefault("OMP_NUM_THREADS", "1")
