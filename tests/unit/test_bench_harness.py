"""The benchmark harness: the figure convention and the shape of bench/results/latest.json."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench import duration_figure, percentile, summarise, value_figure


def _module(name: str, run: Any) -> types.ModuleType:
    module = types.ModuleType(f"bench.{name}")
    module.run = run  # type: ignore[attr-defined]
    return module


@pytest.fixture
def fake_modules(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    def ok() -> dict[str, dict[str, Any]]:
        return {
            "decision_ms": duration_figure(
                [float(x) for x in range(1, 101)], reference=10_000, reference_label="10 s"
            ),
            "size_mb": value_figure(300, unit="MB", limit=250),
        }

    def broken() -> dict[str, dict[str, Any]]:
        raise RuntimeError("the local cloud did not start")

    monkeypatch.setitem(sys.modules, "bench.bench_fake_ok", _module("bench_fake_ok", ok))
    monkeypatch.setitem(
        sys.modules, "bench.bench_fake_broken", _module("bench_fake_broken", broken)
    )
    return ["bench_fake_ok", "bench_fake_broken"]


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(x) for x in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 95) == 95
    assert percentile(samples, 99) == 99
    assert percentile([7.0], 99) == 7.0


def test_a_latency_gets_percentiles_and_its_ratio_to_the_reference() -> None:
    figure = summarise(duration_figure([100.0, 200.0, 300.0, 400.0], reference=1000))
    assert (figure["p50"], figure["p95"], figure["p99"], figure["n"]) == (200, 400, 400, 4)
    assert figure["ratio"] == pytest.approx(0.2)


def test_a_value_over_its_limit_is_flagged() -> None:
    assert summarise(value_figure(300, unit="MB", limit=250))["within_limit"] is False
    assert summarise(value_figure(40, unit="MB", limit=250))["within_limit"] is True


@pytest.mark.parametrize(
    "figure", [{"samples": [1.0]}, {"unit": "ms"}, {"unit": "ms", "samples": []}]
)
def test_a_figure_that_breaks_the_convention_is_refused(figure: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        summarise(figure)


def test_the_results_document_has_machine_commit_date_and_every_module(
    fake_modules: list[str],
) -> None:
    from bench.__main__ import collect

    # when
    results = collect(fake_modules)

    # then
    json.dumps(results)  # serialisable as it is
    assert {"schema_version", "date", "machine", "git", "modules", "missing_modules"} <= set(
        results
    )
    assert {"cpu_model", "cores", "memory_gb", "python"} <= set(results["machine"])
    assert "commit" in results["git"]
    ok = results["modules"]["bench_fake_ok"]
    assert ok["status"] == "ok"
    decision = ok["figures"]["decision_ms"]
    assert {"p50", "p95", "p99", "ratio", "reference", "unit"} <= set(decision)
    assert decision["ratio"] == pytest.approx(50 / 10_000)
    broken = results["modules"]["bench_fake_broken"]
    assert broken["status"] == "error"
    assert "the local cloud did not start" in broken["error"]


def test_main_writes_the_json_and_fails_when_a_benchmark_fails(
    fake_modules: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bench.__main__ as harness

    monkeypatch.setattr(harness, "discover", lambda: list(fake_modules))
    out = tmp_path / "latest.json"

    code = harness.main(["--out", str(out)])

    assert code == 1
    written = json.loads(out.read_text())
    assert set(written["modules"]) == set(fake_modules)


def test_every_benchmark_module_present_exposes_run() -> None:
    import importlib.util

    from bench.__main__ import discover

    for name in discover():
        spec = importlib.util.find_spec(f"bench.{name}")
        assert spec is not None
        assert spec.origin is not None
        assert "def run(" in Path(spec.origin).read_text(), f"{name} has no run()"


def test_the_headline_table_shows_the_figures_present(fake_modules: list[str]) -> None:
    from bench.__main__ import collect, headline

    results = collect(fake_modules)
    results["modules"]["bench_api"] = {
        "status": "ok",
        "figures": {"decision.c1_ms": summarise(duration_figure([300.0, 400.0], reference=10_000))},
    }

    table = headline(results)

    assert "submit → decision, 1 applicant" in table
    assert "300 ms" in table
    assert "funds" not in table  # absent figures are left out


def test_a_figure_that_could_not_be_measured_makes_the_module_partial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench.__main__ import run_module

    def half() -> dict[str, dict[str, Any]]:
        return {
            "ok_ms": duration_figure([1.0, 2.0]),
            "funds": {"unit": "ms", "error": "no application was funded"},
        }

    monkeypatch.setitem(sys.modules, "bench.bench_fake_half", _module("bench_fake_half", half))

    outcome = run_module("bench_fake_half")

    assert outcome["status"] == "partial"
    assert outcome["figures"]["ok_ms"]["p50"] == 1.0
    assert outcome["figures"]["funds"]["error"] == "no application was funded"


def test_decision_compute_counts_the_tasks_up_to_decide_without_ocr_or_schedules() -> None:
    from bench.bench_compute import decision_functions, scheduled_functions
    from localcloud.template import load_template

    template = load_template()
    deciding = decision_functions(template)

    assert {"StarterFunction", "ScoreFunction", "DecideFunction"} <= deciding
    assert not any("Extract" in name for name in deciding)
    assert "MakeOfferFunction" not in deciding
    assert scheduled_functions(template).isdisjoint(deciding)
