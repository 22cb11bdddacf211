"""The plateau rule (optim.Plateau) on scripted minival error sequences: noise of the measured size around a falling
trend never drops the rate, a real plateau does within its patience, the drops are the same at any evaluation rate,
the rule ends at the plateau after its last drop, and its noise estimate (experiments.plateau_noise)."""
import jax.numpy as jnp
import numpy as np
import pytest

from alexnet import optim
from alexnet import steps
from alexnet import validation
from configs import default as default_config
from configs import imagenet as imagenet_config
from configs import proxy as proxy_config
from configs import smoke as smoke_config
from experiments import plateau_noise

# The proxy's noise at its base rate, 4 evaluations an epoch (docs/training.md, The plateau rule), and the slope of
# its minival error over epochs 1-4 at that rate (about 22% to 11.5%).
SIGMA, EVALS_PER_EPOCH, SLOPE = 0.96, 4, 3.5


def rule(evals_per_window=EVALS_PER_EPOCH, patience=2, cooldown=1, threshold=None, max_drops=3) -> optim.Plateau:
  if threshold is None:
    threshold = plateau_noise.threshold(SIGMA, evals_per_window, z=2.0) / 100
  return optim.Plateau(evals_per_window, patience, cooldown, threshold, max_drops)


def drops_and_end(plateau: optim.Plateau, errors) -> tuple[list[int], int | None]:
  """(the evaluation numbers, from 1, after which the rate dropped; the one after which the rule was done)."""
  state, drops = optim.init_plateau(), []
  for i, error in enumerate(errors, 1):
    before = plateau.drops(state)
    state = plateau.step(state, error)
    if plateau.done(state):
      return drops, i
    if plateau.drops(state) > before:
      drops.append(i)
  return drops, None


def noisy_trend(seed: int, epochs: int, slope: float, flat_after: int | None = None) -> np.ndarray:
  """Minival errors (fractions), EVALS_PER_EPOCH an epoch: 40% falling by `slope` points an epoch (each epoch's
  evaluations share its level; after `flat_after` epochs the level stays), plus independent noise of SIGMA points."""
  epoch = np.arange(epochs * EVALS_PER_EPOCH) // EVALS_PER_EPOCH + 1
  trend = 40 - slope * (epoch if flat_after is None else np.minimum(epoch, flat_after))
  return (trend + np.random.default_rng(seed).normal(0, SIGMA, epoch.shape)) / 100


def test_noise_around_a_falling_trend_never_drops_the_rate():
  for seed in range(200):
    assert drops_and_end(rule(), noisy_trend(seed, epochs=8, slope=SLOPE)) == ([], None), seed


def test_the_rule_it_replaces_dropped_on_that_noise():
  """One evaluation a window, an improvement of 0.1 point, patience 2 evaluations: the same sequences drop early."""
  old = rule(evals_per_window=1, patience=2, cooldown=0, threshold=1e-3)
  dropped = sum(bool(drops_and_end(old, noisy_trend(seed, epochs=8, slope=SLOPE))[0]) for seed in range(200))
  assert dropped > 150


def test_a_real_plateau_drops_within_its_patience():
  """The error stops falling after epoch 4: epochs 5 and 6 are the patience, so the rate drops at the end of epoch 6
  in nearly every sequence (a window that beats the best by noise alone restarts the count), and in none before."""
  at = np.array([drops_and_end(rule(), noisy_trend(seed, epochs=12, slope=SLOPE, flat_after=4))[0][0]
                 for seed in range(200)]) / EVALS_PER_EPOCH
  assert at.min() == 6 and np.mean(at == 6) > 0.95 and at.max() <= 8


@pytest.mark.parametrize('evals_per_window', [1, 4])
def test_a_flat_error_drops_every_cooldown_plus_patience_then_ends(evals_per_window):
  """Window 1 sets the best; windows 2-3 do not beat it: drop at 3; a cooldown window, then 2 more: drop at 6, 9;
  done at 12. The same whatever the evaluations per window."""
  drops, end = drops_and_end(rule(evals_per_window=evals_per_window), [0.2] * (14 * evals_per_window))
  assert [d // evals_per_window for d in drops] == [3, 6, 9] and end // evals_per_window == 12
  assert all(d % evals_per_window == 0 for d in drops)


def test_the_drops_are_the_same_at_any_evaluation_rate():
  """One error per epoch, or four whose mean is that error: the rate drops after the same epochs."""
  per_epoch = np.array([40, 30, 24, 21, 20.5, 20.4, 20.6, 18, 17.9, 17.8, 17.9, 17.85, 17.9, 17.9, 17.9, 17.9]) / 100
  wiggle = np.array([0.01, -0.01, 0.005, -0.005])  # sums to 0 over the window.
  quarterly = (per_epoch[:, None] + wiggle[None, :]).ravel()
  once = drops_and_end(rule(evals_per_window=1, threshold=0.01), per_epoch)
  four = drops_and_end(rule(evals_per_window=4, threshold=0.01), quarterly)
  assert once[0] and [d // 4 for d in four[0]] == once[0] and four[1] // 4 == once[1]


def test_the_scale_a_step_uses_stays_at_the_last_drop():
  plateau = rule(evals_per_window=1, cooldown=0)
  state = optim.init_plateau()
  for _ in range(20):
    state = plateau.step(state, 0.2)
  assert plateau.done(state) and plateau.drops(state) == 4
  assert np.float32(plateau.scale(state)) == np.float32(np.float32(np.float32(0.1) * np.float32(0.1)) *
                                                        np.float32(0.1))


def test_apply_plateau_sets_the_rate_the_optimiser_uses():
  config = imagenet_config.get_config()
  params = {'w': jnp.zeros((2,))}
  tx = optim.make_optimizer(config, steps_per_epoch=10)
  state = steps.TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=None, opt_state=tx.init(params),
                           plateau=optim.init_plateau())
  plateau = rule(evals_per_window=1, patience=1, cooldown=0, threshold=0.01)
  rates = []
  for error in [0.5, 0.4, 0.395, 0.30, 0.3, 0.3, 0.3, 0.3]:
    state = steps.apply_plateau(state, error, plateau)
    rates.append(float(optim.current_learning_rate(state.opt_state)))
  np.testing.assert_allclose(rates, [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-5, 1e-5, 1e-5], rtol=1e-5)
  assert plateau.done(state.plateau)


def test_plateau_settings_come_in_epochs():
  config = proxy_config.get_config()
  settings = optim.Plateau.from_config(config, steps_per_epoch=429, eval_every=107)
  assert (settings.evals_per_window, settings.patience, settings.cooldown) == (4, 2, 1)
  assert optim.Plateau.from_config(config, steps_per_epoch=429, eval_every=429).evals_per_window == 1


@pytest.mark.parametrize('overrides, message', [
    ({'plateau_window_epochs': 1.0, 'eval_every_epochs': 0.3}, 'whole multiple of eval_every_epochs'),
    ({'plateau_patience_epochs': 1.5}, 'plateau_patience_epochs .* whole multiple'),
    ({'plateau_cooldown_epochs': 0.5}, 'plateau_cooldown_epochs .* 0 or a whole multiple'),
    ({'plateau_patience_epochs': 0.0}, 'plateau_patience_epochs must be > 0'),
])
def test_plateau_durations_are_checked(overrides, message):
  config = default_config.get_config()
  config.schedule = 'plateau'
  config.update(overrides)
  with pytest.raises(validation.ConfigError, match=message):
    validation.validate(config, 2)


def test_the_noise_estimate_ignores_the_trend():
  """Second differences: a straight line has none; a bent trend plus noise of sd 0.5 points gives about 0.5."""
  steps_ = np.arange(1, 401) * 10
  line = [{'step': int(s), 'top1_error': 0.3 - 1e-5 * s, 'learning_rate': 0.01} for s in steps_]
  assert plateau_noise.sigma(plateau_noise.second_differences(line, 40, 0)[0.01]) < 1e-6
  rng = np.random.default_rng(0)
  noisy = [dict(h, top1_error=0.1 + 0.2 * np.exp(-s / 1000) + rng.normal(0, 0.005)) for h, s in zip(line, steps_)]
  assert plateau_noise.sigma(plateau_noise.second_differences(noisy, 40, 1)[0.01]) == pytest.approx(0.5, rel=0.1)
  assert plateau_noise.threshold(0.96, 4, 2.0) == pytest.approx(2 * 0.96 * np.sqrt(0.5))


def test_a_plateau_run_resumes_only_at_its_own_evaluation_rate(tmp_path):
  """The rule's checkpointed window counts evaluations, so a resume may not change their rate (other schedules may)."""
  for schedule, refused in (('plateau', True), ('cosine', False)):
    config = default_config.get_config()
    config.schedule = schedule
    workdir = tmp_path / schedule
    (workdir / 'checkpoints' / '5').mkdir(parents=True)
    (workdir / 'config.json').write_text(config.to_json_best_effort())
    config.eval_every_epochs = 0.5
    if refused:
      with pytest.raises(validation.ConfigError, match=r'holds checkpoints of another config \(eval_every_epochs'):
        validation.check_workdir(config, str(workdir))
    else:
      validation.check_workdir(config, str(workdir))


def test_fixed_drops_divide_the_rate_by_ten_from_their_steps_on_after_the_warm_up():
  """schedule='drops': the plateau rule's drops placed in advance, each from the step int(epoch * steps_per_epoch) on,
  counted from the run's start (the warm-up included)."""
  config = smoke_config.get_config()
  config.schedule, config.learning_rate, config.drop_epochs = 'drops', 0.01, (2.0, 3.5)
  schedule = optim.learning_rate_schedule(config, steps_per_epoch=10)
  rates = [float(schedule(s)) for s in (0, 19, 20, 34, 35, 100)]
  np.testing.assert_allclose(rates, [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4], rtol=1e-6)
  config.warmup_epochs = 1.0
  schedule = optim.learning_rate_schedule(config, steps_per_epoch=10)
  rates = [float(schedule(s)) for s in (0, 5, 10, 19, 20, 35)]
  np.testing.assert_allclose(rates, [0.0, 5e-3, 1e-2, 1e-2, 1e-3, 1e-4], rtol=1e-6)
  assert validation.unread_by_schedule('plateau', 'drop_epochs') and not validation.unread_by_schedule(
      'drops', 'drop_epochs')
