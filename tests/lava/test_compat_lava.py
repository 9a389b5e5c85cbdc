"""lava-nc 0.10.0 imports on Python 3.11 through qslm_neuro.lava.compat and its models run."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from qslm_neuro.lava import compat

pytestmark = pytest.mark.skipif(importlib.util.find_spec("lava") is None,
                                reason="lava-nc is not installed (make test installs it)")


def test_patch_targets_only_the_bytencoder_dataclass():
    source = "@dataclass\nclass ByteEncoder:\n    base: int = 0\n"
    patched = compat.patch_source(source)
    assert "@dataclass(unsafe_hash=True)\nclass ByteEncoder:" in patched
    untouched = "@dataclass\nclass Other:\n    x: int = 0\n"
    assert compat.patch_source(untouched) == untouched


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the failure only exists on Python >= 3.11")
def test_plain_import_fails_and_the_fix_makes_it_work():
    """In fresh interpreters: without the hook Lava's compiler does not import; with it, it does."""
    plain = subprocess.run([sys.executable, "-c", "import lava.magma.compiler.var_model"],
                           capture_output=True, text=True)
    assert plain.returncode != 0 and "mutable default" in plain.stderr
    fixed = subprocess.run([sys.executable, "-c", "import qslm_neuro.lava; "
                            "import lava.magma.compiler.var_model as v; "
                            "print(hash(v.ByteEncoder()) is not None)"],
                           capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.strip() == "True"


def test_ringbuffer_dense_lif_runs_bit_accurate():
    import qslm_neuro.lava  # noqa: F401  (installs the fix before Lava's compiler is imported)
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    steps = 8
    spikes_in = np.zeros((2, steps))
    spikes_in[0, [0, 1, 2, 3]] = 1
    spikes_in[1, [2, 4]] = 1
    weights = np.array([[60, 0], [30, 30]])
    source = RingBuffer(data=spikes_in)
    dense = Dense(weights=weights)
    # du = 4095: the current does not persist; dv = 0: no leak; threshold vth << 6 = 6400
    lif = LIF(shape=(2,), du=4095, dv=0, vth=100, bias_mant=0)
    source.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    monitor = Monitor()
    monitor.probe(lif.s_out, steps)
    try:
        lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = monitor.get_data()[lif.name]["s_out"]
    finally:
        lif.stop()
    # Reference of Loihi's integer arithmetic: activation shifted left by 6 bits, v integrates
    # without leak, spike when v > vth << 6, then v = 0; the Dense output reaches the LIF one
    # time step after the input spike.
    expected = np.zeros((steps, 2))
    v = np.zeros(2, dtype=np.int64)
    for t in range(1, steps):
        v = v + (weights @ spikes_in[:, t - 1]).astype(np.int64) * 64
        fired = v > 100 * 64
        expected[t] = fired
        v[fired] = 0
    np.testing.assert_array_equal(out, expected)
    assert expected.sum() == 3  # neuron 0 fires twice, neuron 1 once: the check is not vacuous
