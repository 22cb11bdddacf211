"""Bad input to the command-line tools is one line on stderr and exit 2, nothing written: a sweep file that is
missing or does not parse, a summary of a config training would refuse, a split the dataset lacks, a negative
checkpoint step, a study folder without results. Each runs the real command in a subprocess."""
import os
import re
import subprocess
import sys

import pytest

from alexnet import train
from tests import test_evaluate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args):
  return subprocess.run([sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def one_line_error(result, pattern: str) -> None:
  """Exit 2 and the last line of stderr `error: ...` matching `pattern`; no traceback."""
  lines = result.stderr.strip().splitlines()
  assert result.returncode == 2, result.stderr[-2000:]
  assert 'Traceback' not in result.stderr
  assert lines and lines[-1].startswith('error: '), lines[-3:]
  assert re.search(pattern, lines[-1]), lines[-1]


@pytest.mark.slow
def test_a_missing_or_broken_sweep_file(tmp_path):
  one_line_error(run('experiments.sweep', f'--sweep={tmp_path}/nope.py', f'--workdir={tmp_path}/w'),
                 r'no such file: .*nope\.py')
  broken = tmp_path / 'broken.py'
  broken.write_text('BASE = "configs/smoke.py"\ndef get_hyper(h, base)\n  return []\n')
  one_line_error(run('experiments.sweep', f'--sweep={broken}', f'--workdir={tmp_path}/w'),
                 r'broken\.py does not parse: line 2: ')
  misspelled = tmp_path / 'misspelled.py'
  misspelled.write_text("BASE = 'configs/smoke.py'\nREFERNCE = 'base'\n\n\ndef get_hyper(h, base):\n  return []\n")
  one_line_error(run('experiments.sweep', f'--sweep={misspelled}', f'--workdir={tmp_path}/w'),
                 r'misspelled\.py: unknown setting REFERNCE \(a sweep file.s settings: BASE, TITLE, ')
  unknown_field = tmp_path / 'unknown_field.py'
  unknown_field.write_text("BASE = 'configs/smoke.py'\n\n\ndef get_hyper(h, base):\n"
                           "  return h.sweep('config.learning_rat', [0.1])\n")
  one_line_error(run('experiments.sweep', f'--sweep={unknown_field}', f'--workdir={tmp_path}/w'),
                 r'the sweep sets config\.learning_rat, which the base config does not have')
  assert not (tmp_path / 'w').exists()


@pytest.mark.slow
def test_summary_refuses_what_training_refuses():
  one_line_error(run('alexnet.summary', '--config=configs/smoke.py', '--config.num_towers=0'),
                 r'num_towers must be >= 1, got 0')


@pytest.mark.slow
def test_evaluate_names_the_splits_and_refuses_a_negative_step(tmp_path):
  workdir = str(tmp_path / 'smoke')
  train.train_and_evaluate(test_evaluate.smoke(), workdir)
  one_line_error(run('alexnet.evaluate', f'--workdir={workdir}', '--split=nosuchsplit'),
                 r"the synthetic dataset has no split 'nosuchsplit'; its splits are train, test")
  one_line_error(run('alexnet.evaluate', f'--workdir={workdir}', '--step=-5'),
                 r'--step must be a checkpoint step \(>= 0\), or -1 for the latest; got -5')
  assert not [n for n in os.listdir(workdir) if n.startswith('eval_')]


@pytest.mark.slow
def test_a_study_folder_without_results(tmp_path):
  one_line_error(run('experiments.study', f'--results={tmp_path}'), r'no question of the study has results in ')
