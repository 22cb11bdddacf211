"""Colour specificity (Section 6.1's colour-agnostic and colour-specific towers), on kernels of known colour."""
import numpy as np

from experiments.figures import figure3


def test_colour_specificity_is_zero_for_grey_and_one_for_single_channel_kernels():
  rng = np.random.default_rng(0)
  grey = np.repeat(rng.normal(size=(11, 11, 1, 8)), 3, axis=2)
  np.testing.assert_allclose(figure3.colour_specificity(grey), 0.0, atol=1e-12)
  single = np.zeros((11, 11, 3, 8))
  single[:, :, 1] = rng.normal(size=(11, 11, 8))
  np.testing.assert_allclose(figure3.colour_specificity(single), 1.0)
  mixed = rng.normal(size=(11, 11, 3, 64))  # independent channels: 2/3 of the energy off the mean, scaled by 3/2.
  assert 0.9 < figure3.colour_specificity(mixed).mean() < 1.05
  towers = np.stack([grey, single])
  np.testing.assert_allclose(figure3.tower_specificity(towers), [0.0, 1.0], atol=1e-12)
  assert figure3.tower_specificity(towers[:, :, :, :1]) is None  # grey input: undefined.
