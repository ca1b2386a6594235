"""The extraction benchmark's metric, and a quality floor for ``extract`` on aeb-dev."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from republish.ingest.extract import extract

ROOT = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_extract_run", ROOT / "bench/extract/run.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_page_scores_metric() -> None:
    bench = _bench()
    truth = "one two three four five six"
    assert bench.page_scores(truth, truth) == (1.0, 0.0, 0.0, True)
    # Punctuation and spacing do not matter: only \w+ tokens count.
    assert bench.page_scores(truth, "one, two; three\n\nfour five six")[3] is True
    tp, fp, fn, exact = bench.page_scores(truth, "one two three four")
    # truth has 3 shingles, the output 1 (shared): TP 1, FN 2, normalised over 3.
    assert (round(tp, 3), fp, round(fn, 3), exact) == (0.333, 0.0, 0.667, False)
    assert bench.page_scores(truth, "")[0] == 0.0


def test_benchmark_skips_without_shared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench()
    monkeypatch.setattr(bench, "DATA", tmp_path / "absent")
    monkeypatch.setattr(sys, "argv", ["run.py"])
    assert bench.main() == 0
    assert "skipped" in capsys.readouterr().out


@pytest.mark.shared
def test_extract_quality_floor_on_aeb_dev(shared_dir: Path) -> None:
    bench = _bench()
    bench.DATA = shared_dir / "data" / "extraction" / "aeb-dev"
    link_target = re.compile(r" \[(?:https?|mailto):[^\]\s]*\]")
    precision = recall = 0.0
    pages = bench.load_pages()
    # No warnings allowed (pytest turns them into errors): real pages must not trip ours.
    for _, html, url, truth in pages:
        text = link_target.sub("", extract(html, url).body_text)
        tp, fp, fn, _ = bench.page_scores(truth, text)
        precision += tp / (tp + fp) if tp + fp else 0.0
        recall += tp / (tp + fn) if tp + fn else 0.0
    precision /= len(pages)
    recall /= len(pages)
    f1 = 2 * precision * recall / (precision + recall)
    # Measured 0.983 (bench/RESULTS.md); plain trafilatura scores 0.954 on the same pages.
    assert f1 >= 0.97, (precision, recall, f1)


def _structure() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_extract_structure", ROOT / "bench/extract/structure.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_structure_truth_is_what_lies_in_the_story_text() -> None:
    structure = _structure()
    page = (
        "<html><body><nav><ul><li>Home page of the site</li></ul></nav>"
        "<h1>Dune fences go up</h1><h2>What the town pays for</h2>"
        "<p>Crews put up <a href='/fences'>sand fences</a> along the north beach on Monday.</p>"
        "<ul><li>two miles of new fencing</li><li>beach grass for the dunes</li></ul>"
        "<blockquote><p>The dunes are the only wall we have against the sea.</p></blockquote>"
        "<blockquote class='twitter-tweet'><p>The dunes are the only wall we have.</p>"
        "<a href='https://bird.example/x/1'>November 3</a></blockquote>"
        "<aside><h3>Most read today</h3><a href='/other'>Other story</a></aside>"
        "</body></html>"
    )
    truth = (
        "What the town pays for\n\nCrews put up sand fences along the north beach on Monday."
        "\n\ntwo miles of new fencing\nbeach grass for the dunes\n\n"
        "The dunes are the only wall we have against the sea.\n\nMost read today is a phrase "
        "inside a line."
    )
    items = structure.truth_items(page, "https://news.example/a/b", truth)
    assert items["headings"] == {"what the town pays for"}  # "most read today": not a line
    assert items["links"] == {("https://news.example/fences", "sand fences")}
    assert items["list items"] == {"two miles of new fencing", "beach grass for the dunes"}
    assert items["blockquotes"] == {"the dunes are the only wall we have against the sea"}
    output = structure.output_items(
        "<h3>What the town pays for</h3><p>Crews put up <a href='https://news.example/fences'>"
        "sand fences</a></p><ol><li>two miles of new fencing</li></ol>",
        "https://news.example/a/b",
    )
    kept = structure.recall([items], [output])
    assert kept == {
        "links": (1, 1),
        "headings": (1, 1),
        "list items": (1, 2),
        "blockquotes": (0, 1),
    }
