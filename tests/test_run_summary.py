"""summary.json's schema, in one place (alexnet/run_summary.py): the fields every run writes, then its own."""
import json

import pytest

from alexnet import run_summary


def fields(**changes):
  return {**{k: i for i, k in enumerate(run_summary.FIELDS)}, **changes}


def test_the_schema_fields_come_first_in_order_then_the_programs_own(tmp_path):
  written = run_summary.write(str(tmp_path), fields(), lr_drops=[], end_reason='plateau rule done')
  on_disk = json.loads((tmp_path / 'summary.json').read_text())
  assert written == on_disk == run_summary.read(str(tmp_path))
  assert list(on_disk) == [*run_summary.FIELDS, 'lr_drops', 'end_reason']
  assert on_disk['minival_history'] == list(run_summary.FIELDS).index('minival_history')


def test_a_summary_off_the_schema_is_refused_and_nothing_is_written(tmp_path):
  partial = fields()
  del partial['commit']
  with pytest.raises(ValueError, match=r"missing \['commit'\], not in the schema \['test_los'\]"):
    run_summary.write(str(tmp_path), {**partial, 'test_los': 1.0})
  with pytest.raises(ValueError, match=r"extra fields \['step'\] are schema fields"):
    run_summary.write(str(tmp_path), fields(), step=3)
  assert run_summary.read(str(tmp_path)) is None and not (tmp_path / 'summary.json').exists()
