"""Every command the documentation shows (`python -m alexnet.<x>` / `python -m experiments.<x>`) exists as a program:
a module, or a package with a __main__.py."""
import glob
import importlib.util
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = re.compile(r'python3? -m ((?:alexnet|experiments)(?:\.\w+)+)')


def documented_commands() -> set[str]:
  texts = ['README.md', 'Makefile', *glob.glob('docs/*.md'), *glob.glob('experiments/**/*.py', recursive=True),
           *glob.glob('alexnet/**/*.py', recursive=True), *glob.glob('configs/*.py'), *glob.glob('slurm/*')]
  found = set()
  for path in texts:
    with open(os.path.join(REPO, path)) as f:
      found |= set(COMMAND.findall(f.read()))
  return found


def test_every_documented_command_is_a_program():
  commands = documented_commands()
  assert {'experiments.sweep', 'experiments.study', 'experiments.compare', 'experiments.figure1',
          'experiments.benchmark', 'alexnet.main'} <= commands, sorted(commands)
  for name in sorted(commands):
    spec = importlib.util.find_spec(name)
    assert spec is not None, name
    if spec.submodule_search_locations:  # a package: run by its __main__.py
      assert importlib.util.find_spec(f'{name}.__main__') is not None, name


def test_the_study_lists_its_questions_once_for_the_makefile():
  from experiments.study import table  # pylint: disable=g-import-not-at-top
  out = subprocess.run([sys.executable, '-m', 'experiments.study', '--list'], cwd=REPO, capture_output=True,
                       text=True, check=True).stdout
  assert tuple(out.split()) == table.QUESTIONS
  make = subprocess.run(['make', '-s', '--no-print-directory', '-f', 'Makefile', 'PY=' + sys.executable,
                         '--eval=print-ablations: ; @echo $(ABLATIONS)', 'print-ablations'], cwd=REPO,
                        capture_output=True, text=True, check=True).stdout
  assert make.split() == [q for q in table.QUESTIONS if q != 'relu']
