"""The MNIST benchmark's goals line (benchmarks/bench_mnist.py), without training anything."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_mnist.py"
spec = importlib.util.spec_from_file_location("bench_mnist", SCRIPT)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def baseline_rows(*seconds_to_target):
    return [{"seed": seed, "seconds_to_target": s} for seed, s in enumerate(seconds_to_target)]


RECIPES = {"c": {"mean_seconds": 4.0, "mean_reaches_target": True,
                 "validation_recorded_mean": 0.9903},
           "d": {"mean_seconds": 30.0, "mean_reaches_target": True,
                 "validation_recorded_mean": 0.9951}}


def test_goals_are_ratios_to_the_baselines_mean_time():
    goals = bench.goals_of({"a_pil": baseline_rows(90.0, 110.0), **RECIPES}, max_epochs=5)
    assert goals["a_pil_mean_seconds_to_99"] == 100.0
    assert goals["c_speedup_vs_a_pil"] == 25.0 and goals["c_goal_met"] is True
    assert goals["d_time_share_of_a_pil"] == 0.3 and goals["d_goal_met"] is True


def test_a_baseline_seed_that_never_reached_99_is_named_not_skipped_silently():
    # measured on an AVX-512 machine: a_pil's seed 2 ended at 98.99 % after 5 epochs, and the
    # goals line printed no ratio and no reason
    goals = bench.goals_of({"a_pil": baseline_rows(84.6, 101.7, None), **RECIPES}, max_epochs=5)
    assert "seeds [2] did not reach 99.0 %" in goals["a_pil_no_ratio"]
    assert "--max-epochs" in goals["a_pil_no_ratio"]
    assert not any(key.endswith("_vs_a_pil") or key.endswith("_goal_met") for key in goals)


def test_a_recipe_that_missed_its_target_on_validation_fails_its_goal_whatever_its_test_score():
    # the first 99.5 % recipe's recorded validation mean was 99.46 %, its test mean 99.61 %
    short = {**RECIPES, "d": {**RECIPES["d"], "validation_recorded_mean": 0.9946}}
    goals = bench.goals_of({"a_pil": baseline_rows(90.0, 110.0), **short}, max_epochs=5)
    assert goals["d_validation_reaches_target"] is False and goals["d_goal_met"] is False
    assert goals["c_goal_met"] is True
    # and where v measured validation again on this machine, it must reach the target too
    v_short = {"v0.99": {"mean_reaches_target": False}}
    goals = bench.goals_of({"a_pil": baseline_rows(90.0, 110.0), **RECIPES, **v_short},
                           max_epochs=5)
    assert goals["c_validation_reaches_target"] is False and goals["c_goal_met"] is False
