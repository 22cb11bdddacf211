"""The ablation study: paired statistics and the rule that prints a verdict (stats), a sweep file's contrasts against
its reference (contrasts), the study's questions and its table, adjusted across them (table), and the numeric regime
LRN acts in (regime). `python -m experiments.study` (__main__.py) prints the table."""
