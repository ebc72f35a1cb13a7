"""The limits line of scripts/stress_execute.py --limits, from made-up results (nothing runs)."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "stress_execute.py"
spec = importlib.util.spec_from_file_location("stress_execute", SCRIPT)
stress = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stress)

BOOK = ["intro", "03_cnn", "06_attention"]


def run(chapter, seconds, status="passed"):
    return {"chapter": chapter, "status": status, "seconds": seconds}


def test_a_chapter_over_its_limit_is_named_with_its_slowest_execution():
    results = [run("intro", 20.0), run("06_attention", 29.0), run("06_attention", 31.5)]
    line, kept = stress.limits_line(results, False, ["intro", "06_attention"], BOOK)
    assert "fast mode: 06_attention 31.5 s: over 30 s" in line and not kept
    assert "whole book" not in line                       # a full-mode limit only


def test_the_whole_book_is_the_sum_of_each_chapters_slowest_execution_in_full_mode():
    results = [run("intro", 40.0), run("intro", 50.0), run("03_cnn", 59.0),
               run("06_attention", 55.0)]
    line, kept = stress.limits_line(results, True, BOOK, BOOK, machine="2 CPUs")
    assert "every chapter within 60 s" in line and kept
    assert "the whole book 164.0 s, within 300 s" in line and line.endswith("2 CPUs")
    slow = [run(chapter, 59.0 + 60 * (chapter == "intro")) for chapter in BOOK] * 2
    line, kept = stress.limits_line(slow, True, BOOK, BOOK)
    assert "intro 119.0 s: over 60 s" in line and "the whole book 237.0 s" in line
    assert not kept


def test_no_book_verdict_unless_every_chapter_of_the_book_passed():
    # --minutes can stop a run before every chapter has run; a hang is over any limit
    line, kept = stress.limits_line([run("intro", 40.0)], True, BOOK, BOOK)
    assert "no time (failed or never ran): 03_cnn, 06_attention" in line and not kept
    assert "the whole book: no verdict" in line
    results = [run("intro", 40.0), run("03_cnn", 50.0), run("06_attention", 45.0),
               run("06_attention", 130.0, "hang")]
    line, kept = stress.limits_line(results, True, BOOK, BOOK)
    assert "06_attention hung: over 60 s" in line and "no verdict" in line and not kept
    line, kept = stress.limits_line([], False, BOOK, BOOK)
    assert "no verdict" in line and not kept
