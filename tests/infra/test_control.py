"""``nor infra status / down`` without a running cluster, and a damaged cluster description."""

from __future__ import annotations

from scenarios.cli import main


def test_status_and_down_with_nothing_up(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NOR_INFRA_CACHE", str(tmp_path))
    assert main(["infra", "status"]) == 1
    assert main(["infra", "down"]) == 0
    assert "no local cluster is up" in capsys.readouterr().out


def test_a_damaged_cluster_description_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NOR_INFRA_CACHE", str(tmp_path))
    state = tmp_path / "run" / "cluster.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    assert main(["infra", "status"]) == 3
    err = capsys.readouterr().err
    assert str(state) in err and "not a cluster description" in err
