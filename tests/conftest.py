"""Four virtual CPU devices for the mesh tests, set before JAX starts its backend; and one persistent compilation
cache for the session, which the processes the slow tier starts share through the environment: a program compiled
once (the smoke net's init and steps, which many runs compile) is read back, not compiled again. The cache starts
empty each session and is removed at its end, so no test reads a program compiled from other code."""
import atexit
import os
import shutil
import tempfile

import jax

_CACHE = tempfile.mkdtemp(prefix='alexnet-tests-jax-cache-')
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ['JAX_COMPILATION_CACHE_DIR'] = _CACHE
os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'  # the small programs too: a run compiles dozens.

jax.config.update('jax_num_cpu_devices', 4)
jax.config.update('jax_platforms', 'cpu')
jax.config.update('jax_compilation_cache_dir', _CACHE)
jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
