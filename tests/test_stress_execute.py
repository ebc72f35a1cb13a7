"""The limits line of scripts/stress_execute.py --limits, from made-up results (nothing runs)."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "stress_execute.py"
spec = importlib.util.spec_from_file_location("stress_execute", SCRIPT)
stress = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stress)


def passed(chapter, seconds):
    return {"chapter": chapter, "status": "passed", "seconds": seconds}


def test_a_chapter_over_its_limit_is_named_with_its_slowest_execution():
    results = [passed("intro", 20.0), passed("06_attention", 29.0), passed("06_attention", 31.5)]
    line = stress.limits_line(results, full=False, every_chapter=True)
    assert "fast mode: 06_attention 31.5 s over 30 s" in line
    assert "whole book" not in line                       # a full-mode limit only


def test_the_whole_book_is_the_sum_of_each_chapters_slowest_execution_in_full_mode():
    results = [passed("intro", 40.0), passed("intro", 50.0), passed("03_cnn", 59.0)]
    line = stress.limits_line(results, full=True, every_chapter=True, cpu="x86_64 AVX2")
    assert "every chapter within 60 s" in line
    assert "the whole book 109.0 s, within 300 s" in line and line.endswith("x86_64 AVX2")
    over = [passed(f"0{i}", 55.0) for i in range(6)]
    assert "the whole book 330.0 s, over 300 s" in stress.limits_line(over, True, True)


def test_no_book_total_from_some_chapters_or_with_a_failure():
    some = stress.limits_line([passed("intro", 40.0)], full=True, every_chapter=False)
    assert "whole book" not in some
    failed = [passed("intro", 40.0), {"chapter": "05_rnn", "status": "hang", "seconds": 130.0}]
    line = stress.limits_line(failed, full=True, every_chapter=True)
    assert "not passed (no time): 05_rnn" in line and "whole book" not in line
