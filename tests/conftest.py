"""Shared test settings.

One torch thread: the suite's models are tiny, and on a 2-core machine where other processes
(Lava's runtime, notebook kernels) compete for the cores, two torch threads were seen to run up
to ~70x slower than one (spin-waiting threads).
"""
import torch

torch.set_num_threads(1)
