"""Speed measurements: timing on this machine and the header of every timing table (timing), the training loop's
own step as a timed row (step_runner), the same nets in PyTorch (torch_twins). The commands are
experiments.benchmark, experiments.loop_rate and experiments.input_throughput."""
