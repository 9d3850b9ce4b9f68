"""Config comparison of two real runs: same scenarios and seeds, two controller configs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reports import ReportError, load_report, render_compare
from reports.compare import compare_markdown


def test_compare_renders_both_configs_side_by_side(run_dir: Path, run_dir_b: Path, tmp_path: Path) -> None:
    out = render_compare(run_dir, run_dir_b, tmp_path / "cmp")
    assert out == tmp_path / "cmp" / "compare.html"
    html = out.read_text()
    a, b = load_report(run_dir), load_report(run_dir_b)
    assert a.manifest.controller_name in html and b.manifest.controller_name in html
    assert a.manifest.config_id[:16] in html and b.manifest.config_id[:16] in html
    for name in ("mc_forewarner_stale_20m", "ledger_desync_2m"):
        assert f"id='cmp-{name}'" in html
    # the scenario only A ran is named, not compared
    assert "Only in A (not compared): ob_down_then_stale/1, ob_down_then_stale/2" in html
    assert "id='cmp-ob_down_then_stale'" not in html
    assert html.count("<svg") == 4  # one A-vs-B figure per common seed
    assert "Δ (B − A)" in html and "r_total A: survival-default" in html


def test_compare_deltas_are_b_minus_a(run_dir: Path, run_dir_b: Path, tmp_path: Path) -> None:
    render_compare(run_dir, run_dir_b, tmp_path / "cmp")
    md = (tmp_path / "cmp" / "compare.md").read_text()
    a, b = load_report(run_dir), load_report(run_dir_b)
    keys = [c.key for c in b.cases]
    mean = lambda r, k: sum(r.metrics[c]["run"][k] for c in keys) / len(keys)  # noqa: E731
    assert md.startswith("## Config comparison: A `survival-default` vs B `seed_template`")
    assert "4 common cases" in md
    line = next(ln for ln in md.splitlines() if ln.startswith("| risk withheld (nominal) |"))
    va, vb = mean(a, "risk_withheld_pct"), mean(b, "risk_withheld_pct")
    assert line == f"| risk withheld (nominal) | {va:.3f} % | {vb:.3f} % | {vb - va:+.3f} % |"
    assert vb > va  # the seed template's un-normalised capital sigmoid taxes nominal operation


def test_compare_run_with_itself_has_zero_deltas(run_dir: Path, tmp_path: Path) -> None:
    md = (render_compare(run_dir, run_dir, tmp_path / "same").parent / "compare.md").read_text()
    assert "B is worse on 0, better on 0" in md
    table = md[md.index("| metric | A | B |"):]
    rows = [ln.strip("| ").split(" | ") for ln in table.splitlines() if ln.startswith("| ") and "metric" not in ln]
    assert len(rows) == 10
    for label, va, vb, delta in rows:
        assert va == vb
        zero = ("+0.000 %", "+0.000 pp", "±0 ms", "+0.00 /h", "±0")
        assert delta in zero or (delta == "—" and va == "—"), label


def test_runs_with_nothing_in_common_are_refused(run_dir_b: Path, swarm_run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError) as info:
        render_compare(run_dir_b, swarm_run_dir, tmp_path / "cmp")
    msg = str(info.value)
    assert msg.startswith("nothing to compare: ")
    assert f"{run_dir_b} (4 cases: ledger_desync_2m, mc_forewarner_stale_20m)" in msg
    assert f"{swarm_run_dir} (2 cases: swarm_short)" in msg
    assert not (tmp_path / "cmp").exists()  # nothing half-written
    a, b = load_report(run_dir_b), load_report(swarm_run_dir)
    with pytest.raises(ReportError, match="no scenario seed in common"):
        compare_markdown(a, b)


@pytest.mark.parametrize("command", ["compare", "report"])
def test_cli_exits_2_when_nothing_is_in_common(run_dir_b: Path, swarm_run_dir: Path, tmp_path: Path,
                                               command: str) -> None:
    proc = subprocess.run([sys.executable, "-c", "import sys; from scenarios.cli import main; sys.exit(main())",
                           command, str(run_dir_b), str(swarm_run_dir), "--out", str(tmp_path / "cmp")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "nothing to compare" in proc.stderr and str(swarm_run_dir) in proc.stderr
    assert proc.stdout == ""


def test_compare_reports_headline_deltas_with_intervals_and_noise(run_dir: Path, run_dir_b: Path,
                                                                  tmp_path: Path) -> None:
    import json
    import math

    from reports.compare import HEADLINE_KEYS
    from reports.scorecard import paired_interval

    render_compare(run_dir, run_dir_b, tmp_path / "cmp")
    doc = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert doc["format"] == "dolphin-nor.metrics/1" and doc["kind"] == "compare"
    assert set(doc["deltas"]) == set(HEADLINE_KEYS) and doc["bootstrap"]["seed"] == 15
    a, b = load_report(run_dir), load_report(run_dir_b)
    keys = [c.key for c in b.cases]
    va = [a.metrics[k]["run"]["risk_withheld_pct"] for k in keys]
    vb = [b.metrics[k]["run"]["risk_withheld_pct"] for k in keys]
    d = paired_interval(va, vb)
    assert d.lo <= d.mean <= d.hi and not math.isnan(d.mean)
    # the same run against itself differs by nothing: every finite delta is 0 and within noise
    render_compare(run_dir, run_dir, tmp_path / "same")
    same = json.loads((tmp_path / "same" / "metrics.json").read_text())
    for key, delta in same["deltas"].items():
        if delta["n"]:
            assert delta["mean"] == 0.0 and delta["within_noise"], key
    md = (tmp_path / "same" / "compare.md").read_text()
    assert "within noise" in md and "| headline metric |" in md
    html = (tmp_path / "cmp" / "compare.html").read_text()
    assert "Headline differences (B − A)" in html
