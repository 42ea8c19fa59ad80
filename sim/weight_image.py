"""Weight images: what a deployed chip's crossbar arrays hold.

PCM is non-volatile, so a chip starts with its arrays programmed.  A
simulation can start the same way: a :class:`WeightImage` holds the weights
of every array (``(IMA instance, array) -> rows x cols`` int8 levels,
-7..7) and the testbench loads it into the behavioural crossbars
(``ClusterEnv.preload``) instead of spending hundreds of thousands of
cycles per array on programming jobs.  The programming path stays tested on
its own (tb/test_ima.py, tb/test_ima_arrays.py); a run reports which it used.

On disk an image is an ``.npz`` with one array per key ``<instance>/<array>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["WeightImage"]


@dataclass
class WeightImage:
    arrays: dict = field(default_factory=dict)     # (instance, array) -> int8 rows x cols

    def place(self, instance: str, array: int, weights, row: int = 0, col: int = 0,
              shape: tuple[int, int] | None = None):
        """Put ``weights`` at (row, col) of an array (created zero, ``shape``
        rows x cols, on first use)."""
        w = np.asarray(weights, np.int8)
        if (instance, array) not in self.arrays:
            if shape is None:
                raise ValueError(f"{instance}/{array}: give the array's shape on first use")
            self.arrays[instance, array] = np.zeros(shape, np.int8)
        a = self.arrays[instance, array]
        if row + w.shape[0] > a.shape[0] or col + w.shape[1] > a.shape[1]:
            raise ValueError(f"{instance}/{array}: {w.shape} at ({row}, {col}) leaves the "
                             f"{a.shape} array")
        if np.abs(w).max(initial=0) > 7:
            raise ValueError(f"{instance}/{array}: weights must be levels -7..7")
        a[row:row + w.shape[0], col:col + w.shape[1]] = w

    def load_into(self, models: dict):
        """Load every array's weights into its behavioural model
        (``models[(instance, array)]``, e.g. ``ClusterEnv.arrays``)."""
        for key, w in self.arrays.items():
            models[key].load(w)

    def save(self, path: str | Path):
        np.savez_compressed(path, **{f"{i}/{k}": w for (i, k), w in self.arrays.items()})

    @classmethod
    def load(cls, path: str | Path) -> "WeightImage":
        img = cls()
        with np.load(path) as z:
            for key in z.files:
                inst, _, k = key.rpartition("/")
                img.arrays[inst, int(k)] = z[key].astype(np.int8)
        return img
