"""The cluster configurations the default test run simulates, in one place:
each distinct (configuration, top) is one Verilator build, and a build with
the eight cores is the expensive one, so tests share these.

* DEFAULT: the paper's cluster as `imcc gen` makes it (cores included).
* NO_CORES: the default without the cores (accelerator and SoC-port tests
  drive everything through the SoC port; the cores are idle there anyway).
* SMALL: a non-default cluster: 32-bit SoC port, 16 banks, 64x64 crossbar,
  no cores.
* L2_CORES: the default with 6 crossbar arrays, on the top with the L2 behind
  the DMA (tb/tops/cluster_l2.py): the small MobileNetV2 needs the arrays, and
  every test that runs the cores with the L2 shares this one build.
"""

from imcc.gen.config import ClusterConfig

__all__ = ["DEFAULT", "NO_CORES", "SMALL", "L2_CORES"]

DEFAULT = ClusterConfig()
NO_CORES = DEFAULT.replace(cores={"count": 0})
SMALL = NO_CORES.replace(soc={"data_width": 32, "id_width": 2, "cluster_id": 5},
                         tcdm={"banks": 16}, ima={"rows": 64, "cols": 64})
L2_CORES = DEFAULT.replace(ima={"arrays": 6})
