"""The research around the net: the commands at this level, one module each, and their libraries in packages.

Commands (`python -m experiments.<name>`): sweep and study (packages, run by their __main__.py), design, compare,
figure1, benchmark, loop_rate, input_throughput, activations, kernels, plot_run, plateau_noise, plateau_plot,
synthetic_imagenet. Libraries: sweep/ (sweep files, their plans, launchers and reports), study/ (paired statistics,
contrasts, the study's table), bench/ (timing and timed steps), figures/ (the paper's figures' own code).
experiments/sweeps/ holds the sweep files themselves (data, not code a command imports).
"""
