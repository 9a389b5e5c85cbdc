"""The fused kernels' logic on the CPU, through Triton's interpreter (needs Triton installed).

The interpreter runs the kernels with numpy: the LIF kernel must give the reference loop's
membranes exactly, and the WKV kernel must equal the same recurrence computed with numpy's exp
(numpy's exp and torch's CPU exp can differ in the last bit; on the GPU the kernel calls the
expf torch calls, which tests/models/test_fused_cuda.py checks). Skipped where Triton is absent (the
default CPU install: Triton is ~285 MB and only useful with a GPU).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("triton")

SCRIPT = textwrap.dedent("""
    import numpy as np, torch
    torch.set_num_threads(1)
    from qslm_neuro.models import _fused_kernels  # noqa: F401  (builds under the interpreter)
    from qslm_neuro.models import fused
    from qslm_neuro.models.neurons import LIFPopulation
    fused.usable = lambda t, kernel='lif': True  # CPU tensors, interpreter
    torch.manual_seed(0)
    cur = torch.randn(3, 37, 129) * 1.5
    population = LIFPopulation(129)
    reference = population.step_through(cur)
    assert torch.equal(population(cur), reference)
    k, v = torch.randn(2, 30, 70) * 4, torch.randn(2, 30, 70)
    td, tf = torch.randn(70), torch.randn(70)
    out, _ = fused.wkv_fused(td, tf, k, v, None)
    K, V, decay, bonus = k.numpy(), v.numpy(), (-torch.exp(td)).numpy(), tf.numpy()
    num = np.zeros((2, 70), np.float32); den = np.zeros_like(num); ex = np.full_like(num, -1e38)
    outs = []
    for t in range(30):
        kt, vt = K[:, t], V[:, t]
        cur_ = bonus + kt; top = np.maximum(ex, cur_)
        so, sn = np.exp(ex - top), np.exp(cur_ - top)
        outs.append((so * num + sn * vt) / (so * den + sn))
        dec = ex + decay; top = np.maximum(dec, kt)
        so, sn = np.exp(dec - top), np.exp(kt - top)
        num = so * num + sn * vt; den = so * den + sn; ex = top
    assert np.array_equal(np.stack(outs, 1), out.numpy())
    print("ok")
""")


def test_kernels_under_the_interpreter_match_the_reference_step_for_step():
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
