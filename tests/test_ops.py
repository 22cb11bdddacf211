"""The operations of ops.py: max pooling and LRN, in both forms, against flax and the formula differentiated by JAX."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alexnet import ops


@pytest.mark.parametrize('shape, window, stride, padding', [
    ((2, 55, 55, 3), 3, 2, 'VALID'), ((2, 28, 28, 3), 3, 2, 'SAME'), ((2, 13, 13, 2), 3, 2, 'VALID'),
    ((2, 27, 27, 2), 2, 2, 'VALID'), ((2, 7, 7, 2), 3, 2, 'SAME')])
def test_max_pool_matches_flax(shape, window, stride, padding):
  """Values, and gradients even where a window's maximum is tied (rounded inputs): the first maximum in row-major
  order takes the window's gradient, as nn.max_pool's select-and-scatter gives it."""
  x = jax.random.normal(jax.random.key(0), shape)
  expected = nn.max_pool(x, (window, window), (stride, stride), padding=padding)
  np.testing.assert_array_equal(ops.max_pool(x, window, stride, padding), expected)
  np.testing.assert_array_equal(ops.max_pool(x, window, stride, padding, cpu_form=False), expected)
  g = jax.random.normal(jax.random.key(1), expected.shape)
  flax_grad = lambda x: jax.vjp(lambda x: nn.max_pool(x, (window, window), (stride, stride), padding), x)[1](g)[0]
  cpu_grad = lambda x: jax.vjp(lambda x: ops.max_pool(x, window, stride, padding), x)[1](g)[0]
  for inputs, tied in ((x, False), (jnp.round(x * 2), True), (jax.nn.relu(x), True)):
    assert bool(jnp.any(inputs == jnp.roll(inputs, 1, axis=2))) == tied  # ties exactly where they are meant.
    np.testing.assert_allclose(cpu_grad(inputs), flax_grad(inputs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('cpu_form', [True, False])
@pytest.mark.parametrize('k, alpha', [(2.0, 1e-4), (1.0, 1e-4 / 5)])
def test_lrn_gradient_matches_autodiff_of_the_formula(k, alpha, cpu_form):
  x = jax.random.normal(jax.random.key(0), (2, 3, 3, 12)) * 40
  g = jax.random.normal(jax.random.key(1), x.shape)
  def reference(x):  # the formula with shifted slices, differentiated by JAX
    padded = jnp.pad(jnp.square(x), [(0, 0)] * 3 + [(2, 2)])
    return x * (k + alpha * sum(padded[..., i:i + 12] for i in range(5))) ** -0.75
  ours = jax.grad(lambda x: jnp.sum(g * ops.local_response_norm(x, k=k, alpha=alpha, cpu_form=cpu_form)))(x)
  np.testing.assert_allclose(ours, jax.grad(lambda x: jnp.sum(g * reference(x)))(x), rtol=2e-5, atol=1e-6)
