"""Four virtual CPU devices for the mesh tests; set before JAX starts its backend."""
import jax

jax.config.update('jax_num_cpu_devices', 4)
jax.config.update('jax_platforms', 'cpu')
