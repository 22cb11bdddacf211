"""Sweeps: what a sweep file declares (sweep_file, hyper), its runs (plan), the launchers that run them (local:
processes on this machine; slurm_jobs: SLURM jobs through submitit), one queue over several files (run_queue), and
what is written from the finished runs (report: results.csv and results.md; plots). `python -m experiments.sweep`
(__main__.py, its flags in options.py) drives them."""
