"""The paper's figures' own code: Figure 1's four-layer net and its trainer (figure1; the command is
experiments.figure1), Figure 3's conv1 kernels per tower and their colour specificity (figure3; the commands are
experiments.kernels and experiments.plot_run)."""
