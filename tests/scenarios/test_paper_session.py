"""The whole paper loop, offline: ``nor paper --feed replay:sample`` against a Hazelcast member.

The member is the wire-level test member (``tests/hzmember``), or a real cluster when
``NOR_HZ_MEMBERS`` is set. One session of ~30 s at 40× the sample's pace: the health publishers
and stand-ins fill the grid, the Actor reaches APEX from the grid, the DolphinStrategy's orders
are placed and filled in APEX through the posture gate, a scripted fault (the book publisher
stopped) moves the posture to STALKER, and the run directory renders with ``nor report``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.ipc as ipc
import pytest

from controller import default_config
from reports import render_run
from reports.manifest import load_manifest
from scenarios.paper_run import PaperOptions, parse_fault_option, parse_options, run_paper_session
from tests.hzmember.member import WireMember


@pytest.fixture(scope="module")
def members():
    if os.environ.get("NOR_HZ_MEMBERS"):
        yield os.environ["NOR_HZ_MEMBERS"]
        return
    member = WireMember().start()
    try:
        yield member.address
    finally:
        member.stop()


def _read(path: Path):
    with open(path, "rb") as f:
        return ipc.open_file(f).read_all().to_pydict()


@pytest.fixture(scope="module")
def session(members, tmp_path_factory):
    out = tmp_path_factory.mktemp("paper")
    lines: list[str] = []
    options = PaperOptions(feed="replay:sample", duration_s=30.0, speed=40.0,
                           stand_ins=("mc_forewarner", "exf", "esof"), faults=(parse_fault_option("book@5s+20s"),),
                           out=out)
    env = {"NOR_HZ_MEMBERS": members, "NOR_HZ_CLUSTER": os.environ.get("NOR_HZ_CLUSTER", "dev")}
    code = run_paper_session(default_config(), options, environ=env, say=lines.append)
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return code, run_dir, lines


def test_the_session_trades_in_apex_and_its_fault_moves_the_posture(session) -> None:
    code, run_dir, lines = session
    case = run_dir / "paper" / "1"
    decisions = _read(case / "decisions.arrow")
    postures = decisions["posture"]
    assert postures[0] == "APEX", lines[:5]
    t = decisions["t_s"]
    stalker = [x for x, p in zip(t, postures) if p == "STALKER"]
    assert stalker and 5.0 < stalker[0] < 28.0, f"the stopped book publisher moved nothing: {lines}"
    orders, fills = _read(case / "orders.arrow"), _read(case / "fills.arrow")
    entries = [i for i, (intent, posture) in enumerate(zip(orders["intent"], orders["posture"]))
               if intent == "entry" and posture == "APEX"]
    assert entries, "no entry placed in APEX"
    assert any(orders["status"][i] == "filled" for i in entries), "no APEX entry filled"
    assert fills["id"], "no fill recorded"
    events = _read(case / "events.arrow")
    assert ("fault", "book") in zip(events["kind"], events["target"])
    assert any("posture" in line and "-> STALKER" in line for line in lines), "no decision log line for STALKER"
    assert code == 0, lines[-3:]


def test_the_run_directory_renders_with_nor_report(session) -> None:
    _, run_dir, _ = session
    manifest = load_manifest(run_dir)
    (scenario,) = manifest.scenarios
    assert scenario.name == "paper" and scenario.runs[0].verdict == "PASS"
    assert [f.target for f in scenario.faults] == ["book"]
    html = render_run(run_dir)
    assert Path(html).is_file() if not isinstance(html, (list, tuple)) else all(Path(p).is_file() for p in html)
    assert (run_dir / "report.html").read_text(encoding="utf-8").count("paper") >= 1


def test_missing_grid_setting_and_bad_options_are_invalid_input(tmp_path) -> None:
    lines: list[str] = []
    options = PaperOptions(feed="replay:sample", duration_s=5.0, out=tmp_path)
    assert run_paper_session(default_config(), options, environ={}, say=lines.append) == 2
    assert "NOR_HZ_MEMBERS is not set" in lines[-1]
    for bad, match in ((dict(duration="ten"), "--duration"), (dict(speed=0.0), "--speed"),
                       (dict(faults=["book"]), "--fault")):
        kwargs = dict(feed="replay:sample", duration=None, speed=1.0, stand_ins="", faults=[], out=tmp_path)
        kwargs.update(bad)
        with pytest.raises(ValueError, match=match):
            parse_options(**kwargs)


def test_build_only_needs_no_grid_and_no_credentials(tmp_path) -> None:
    lines: list[str] = []
    for feed, code, text in (("replay:sample", 0, "instruments=50"), ("replay:/no/such.arrow", 2, "not found"),
                             ("kafka", 2, "--feed")):
        options = PaperOptions(feed=feed, stand_ins=("exf",), out=tmp_path)
        assert run_paper_session(default_config(), options, build_only=True, environ={}, say=lines.append) == code
        assert text in lines[-1], lines[-1]
