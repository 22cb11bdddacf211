"""The default's schedule: the paper's plateau rule (configs/default.py, the rule of docs/training.md) against the
cosine schedule it replaced (configs/default_cosine.py: these three overrides), 3 seeds each, paired by seed; minival
and test top-1 error, wall time. The default runs the paper's schedule whatever this shows; the table says what
that costs or gains.

Design, fixed before the plateau runs: the default's learning rate (0.1) is the one tune_default.py selected on minival
for the cosine schedule, kept and not re-tuned (no grid); the plateau rule's threshold comes from a pilot at the
constant rate (seed 100, not one of these seeds; docs/training.md). Seed 0 of the plateau arm is `make train`'s run
from a fresh clone, copied in rather than run again. The cosine arm's three runs are the committed runs of that
schedule (docs/schedules/runs), made before the plateau rule at commits that carry the same cosine arithmetic.

  mkdir -p runs/schedules/runs && cp -r runs/default 'runs/schedules/runs/base,seed=0'
  python -m experiments.sweep --sweep=experiments/sweeps/schedules.py --workdir=runs/schedules \
      --runs_dir=runs/schedules/runs --schedule=full --jobs=2
"""
from experiments import sweeps

BASE = 'configs/default.py'
TITLE = "The default's schedule: the plateau rule against cosine"
REFERENCE = 'plateau'
_COSINE = {'schedule': 'cosine', 'num_epochs': 10.0, 'eval_every_epochs': 1.0}  # configs/default_cosine.py.


def get_hyper(h, base):
  del base
  return h.product([h.chain([h.fixed('label', 'plateau'), h.product([h.fixed('label', 'cosine'),
                                                                       sweeps.fixed(h, _COSINE)])]),
                    sweeps.seeds(h, (0, 1, 2))])
