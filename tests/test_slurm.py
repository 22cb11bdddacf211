"""Training under a real SLURM (the one-node cluster `.ci/slurm-up` brings up on localhost; slow tier): `srun -n2`
forms one jax.distributed run from SLURM's environment alone, with the final parameters of one process on the same
(2, 2) mesh; a bare `python -m alexnet.main` in an `sbatch -n2` script (SLURM_NTASKS=2, no job step) is one process
and does not wait for peers. Skipped where SLURM is absent, except in CI (`.ci/run` starts it)."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from tests import test_faults

pytestmark = pytest.mark.slow
REPO = test_faults.REPO
SMOKE = [sys.executable, *test_faults.SMOKE, '--config.num_train_steps=60']


@pytest.fixture(scope='module', autouse=True)
def slurm():
  up = shutil.which('srun') and subprocess.run(['sinfo', '-h'], capture_output=True, timeout=30).returncode == 0
  if not up:
    if os.environ.get('CI') == 'true':
      pytest.fail('SLURM is not up: .ci/run starts it with .ci/slurm-up')
    pytest.skip('no SLURM here (bash .ci/slurm-up brings up a one-node SLURM on localhost, as root)')


def test_srun_forms_one_run_from_slurms_environment(tmp_path):
  one = tmp_path / 'one'
  alone = subprocess.run([*SMOKE, '--config.mesh_data=2', f'--workdir={one}'], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
  assert alone.returncode == 0, alone.stderr[-3000:]
  two = tmp_path / 'two'
  step = subprocess.run(['srun', '-n2', '--cpus-per-task=1', '-t', '10', '--kill-on-bad-exit=1', *SMOKE,
                         f'--workdir={two}'], cwd=REPO, capture_output=True, text=True, timeout=600)
  assert step.returncode == 0, step.stderr[-3000:]
  assert "devices {'data': 2, 'tower': 2} over 2 process(es)" in step.stderr
  (state_one, summary_one), (state_two, summary_two) = test_faults.final(one), test_faults.final(two)
  for x, y in zip(jax.tree.leaves(state_one), jax.tree.leaves(state_two), strict=True):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)  # the data all-reduce runs over gloo instead.
  assert summary_two['step'] == summary_one['step'] == 60


def test_a_run_in_an_sbatch_script_outside_srun_is_one_process(tmp_path):
  workdir, log = tmp_path / 'run', tmp_path / 'log'
  command = ' '.join([*SMOKE, f'--workdir={workdir}'])
  job = subprocess.run(['sbatch', '--wait', '-n2', '--cpus-per-task=1', '-t', '10', f'--output={log}',
                        f'--chdir={REPO}', '--wrap', f'env | grep ^SLURM_NTASKS=; {command}'],
                       capture_output=True, text=True, timeout=600)
  text = log.read_text()
  assert job.returncode == 0, job.stderr + text[-3000:]
  assert 'SLURM_NTASKS=2' in text and 'over 1 process(es)' in text
  assert json.loads((workdir / 'summary.json').read_text())['step'] == 60


def sweep(*args):
  return subprocess.run([sys.executable, '-m', 'experiments.sweep', *args], cwd=REPO, capture_output=True, text=True,
                        timeout=900)


def test_a_smoke_sweep_through_slurm_is_gathered_and_a_rerun_skips_everything(tmp_path):
  args = ('--sweep=experiments/sweeps/smoke.py', f'--workdir={tmp_path}', '--launcher=slurm',
          '--slurm=cpus_per_task=1,timeout_min=10,mem_gb=2')
  first = sweep(*args)
  assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
  assert '4 runs: 0 finished before, 4 to submit to SLURM (cpus_per_task=1, gpus_per_node=0' in first.stdout
  assert '[slurm: 4 of 4 ended | ]' in first.stdout and first.stdout.count('done ') == 4
  with open(tmp_path / 'results.csv') as f:
    rows = list(csv.DictReader(f))
  assert sorted((r['point'], r['seed']) for r in rows) == [('lrn=none', '0'), ('lrn=none', '1'), ('lrn=paper', '0'),
                                                           ('lrn=paper', '1')]
  assert all(int(r['steps']) == 120 for r in rows)
  assert len(list(tmp_path.glob('*/slurm/*_log.err'))) == 4  # each job's own log, beside its run.
  again = sweep(*args)
  assert again.returncode == 0 and '4 runs: 4 finished before, 0 to submit to SLURM' in again.stdout


def test_a_failing_slurm_job_is_reported_with_its_log(tmp_path):
  bad = tmp_path / 'bad.py'
  bad.write_text("BASE = 'configs/smoke.py'\n\n\ndef get_hyper(h, base):\n"
                 "  return h.sweep('config.batch_size', [4096])\n")
  result = sweep(f'--sweep={bad}', f'--workdir={tmp_path}/w', '--launcher=slurm', '--slurm=timeout_min=5,mem_gb=2')
  assert result.returncode == 1, result.stdout[-3000:]
  failed = next(line for line in result.stdout.splitlines() if line.startswith('FAILED batch_size=4096,seed=0'))
  log = failed.split('its log: ')[1]
  assert os.path.exists(log) and 'batch_size 4096 exceeds the 768 training examples' in open(log).read()


def job_state(job_id: str) -> str:
  return subprocess.run(['squeue', '-h', '-j', job_id, '-o', '%T'], capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
  """The smoke run of test_faults, never stopped: where a stopped and resumed one must end."""
  workdir = tmp_path_factory.mktemp('straight') / 'run'
  alone = subprocess.run([sys.executable, *test_faults.SMOKE, f'--workdir={workdir}'], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
  assert alone.returncode == 0, alone.stderr[-3000:]
  return test_faults.final(workdir)


def submit_training(workdir, log) -> str:
  """slurm/train.sbatch with the smoke run, a 10-minute limit and the script's own --signal=TERM@120; its job id."""
  submitted = subprocess.run(['sbatch', '--parsable', '-n1', '--cpus-per-task=1', '-t', '10', f'--output={log}',
                              f'--chdir={REPO}', f'--export=ALL,PYTHON={sys.executable}', 'slurm/train.sbatch',
                              *test_faults.SMOKE[2:], f'--workdir={workdir}'], capture_output=True, text=True,
                             timeout=60)
  assert submitted.returncode == 0, submitted.stderr
  return submitted.stdout.strip().split(';')[0]


def wait_for_checkpoint(workdir, log, step: int, deadline: float) -> None:
  while not (workdir / 'checkpoints' / str(step)).exists():
    assert time.time() < deadline and not (workdir / 'summary.json').exists(), log.read_text()[-3000:]
    time.sleep(0.2)


def wait_to_finish(job_id: str, workdir, log, deadline: float) -> str:
  while not (workdir / 'summary.json').exists() or job_state(job_id):
    assert time.time() < deadline, f'job {job_id} ({job_state(job_id)}) did not finish:\n' + log.read_text()[-3000:]
    time.sleep(1)
  return log.read_text()


def test_a_requeued_job_saves_and_resumes_to_the_same_final_metrics(tmp_path, straight):
  """`scontrol requeue` on a running training job: SLURM sends SIGTERM, the run saves at one step and exits 75, the
  job goes back to the queue, and when it starts again the same command resumes and ends bitwise where a run that
  was never stopped ends."""
  workdir, log = tmp_path / 'run', tmp_path / 'job.log'
  job_id, deadline = submit_training(workdir, log), time.time() + 300
  wait_for_checkpoint(workdir, log, 40, deadline)
  subprocess.run(['scontrol', 'requeue', job_id], check=True, timeout=60)
  text = wait_to_finish(job_id, workdir, log, deadline)
  assert 'error: stopped: SIGTERM at step ' in text and 'Resumed from' in text, text[-3000:]
  test_faults.assert_same_run(test_faults.final(workdir), straight)


def training_task(workdir) -> int:
  """The pid of the job step's task: the Python process training into `workdir` (srun's own command line names the
  same arguments, after 'srun')."""
  for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
      with open(f'/proc/{pid}/cmdline', 'rb') as f:
        argv = f.read().decode().split('\0')
    except OSError:
      continue
    if argv[0] == sys.executable and f'--workdir={workdir}' in argv:
      return int(pid)
  raise AssertionError(f'no training process for {workdir}')


def notice_came(pid: int, log) -> bool:
  """Whether the notice reached the (stopped) task: SIGTERM pending in it, or the task continued by slurmstepd (it
  sends SIGCONT before a signal) has taken it or ended."""
  try:
    with open(f'/proc/{pid}/status') as f:
      masks = [int(line.split()[1], 16) for line in f if line.startswith(('SigPnd:', 'ShdPnd:'))]
  except FileNotFoundError:
    return True
  return any(mask & (1 << (signal.SIGTERM - 1)) for mask in masks) or 'SIGTERM: finishing this step' in log.read_text()


def run_seconds(job_id: str) -> int:
  fields = dict(f.split('=', 1) for f in subprocess.run(['scontrol', 'show', 'job', '-o', job_id], check=True,
                                                        capture_output=True, text=True).stdout.split() if '=' in f)
  days, _, clock = fields['RunTime'].rpartition('-')
  h, m, sec = (int(x) for x in clock.split(':'))
  return (int(days or 0) * 24 + h) * 3600 + m * 60 + sec


def test_the_time_limit_notice_saves_requeues_and_resumes_to_the_same_final_metrics(tmp_path, straight):
  """--signal=TERM@120 (slurm/train.sbatch), as SLURM itself sends it: the job's time limit is brought within two
  minutes of now (`scontrol update TimeLimit`), so slurmctld's own check sends the notice to the job step. The
  training process is stopped (SIGSTOP) until it comes, so that it arrives mid-run however long slurmctld takes
  (slurmstepd sends SIGCONT before the signal); then the limit goes back to 10 minutes, and the process saves at one
  step and exits 75, the script requeues the job, and it resumes to bitwise the final metrics of a run never
  stopped."""
  workdir, log = tmp_path / 'run', tmp_path / 'job.log'
  job_id, deadline = submit_training(workdir, log), time.time() + 420
  wait_for_checkpoint(workdir, log, 40, deadline)
  task = training_task(workdir)
  os.kill(task, signal.SIGSTOP)
  try:
    minutes = run_seconds(job_id) // 60 + 2  # the limit is 60-120 s away: within the notice's 120 s, not past it.
    subprocess.run(['scontrol', 'update', f'JobId={job_id}', f'TimeLimit={minutes}'], check=True, timeout=60)
    while not notice_came(task, log):
      assert time.time() < deadline, 'slurmctld sent no notice:\n' + log.read_text()[-3000:]
      time.sleep(0.5)
    subprocess.run(['scontrol', 'update', f'JobId={job_id}', 'TimeLimit=10'], check=True, timeout=60)
  finally:
    try:
      os.kill(task, signal.SIGCONT)
    except ProcessLookupError:
      pass  # it took the notice and ended.
  text = wait_to_finish(job_id, workdir, log, deadline)
  assert 'error: stopped: SIGTERM at step ' in text and f'requeueing job {job_id}' in text, text[-3000:]
  assert 'Resumed from' in text, text[-3000:]
  test_faults.assert_same_run(test_faults.final(workdir), straight)
