"""Smoke run of the benchmark suite, this project's side only, at tiny N (the peer is skipped).

The real runs (10k / 100k / 1M, both systems) are `python -m benchmarks.run`, never part of the
test suite; this only proves the harness still works end to end and the output keeps its shape.
"""

from __future__ import annotations

import json

from benchmarks import run


def test_our_side_runs_at_tiny_n_and_reports_every_row(tmp_path, capsys):
    result = run.main(["--sizes", "200", "--repeat", "1", "--levels", "1,5", "--tickets", "10",
                       "--soak", "200", "--skip-peer", "--out", str(tmp_path)])

    ours = result["ours"]
    assert set(ours["intake"]) == {1, 5}
    for level in ours["intake"].values():
        assert level["failures"] == 0 and level["all_announced"]
        assert level["tickets_per_s"] > 0 and 0 < level["submit_p50_ms"] <= level["submit_p99_ms"]
    assert ours["soak"]["soak_handled"] == 200
    assert ours["sweep"][200]["owed"] == ours["sweep"][200]["due"]
    assert ours["summary"][200]["build_ms"] > 0
    figures = [row["figure"] for row in result["table"]]
    assert any(f.startswith("intake tickets/s @5") for f in figures)
    assert any(f.startswith("sweep, nothing due") for f in figures)
    assert any(f.startswith("summary build") for f in figures)
    assert any(f.startswith("peak RSS, bot") for f in figures)
    assert all(row["peer"] is None for row in result["table"])  # peer skipped
    assert {t["target"] for t in result["targets"]} >= {
        "p99 submission < 50 ms at 20 concurrent", "peak RSS < 100 MiB (bot)"}
    saved = json.loads((tmp_path / result["path"].rsplit("/", 1)[1]).read_text())
    assert saved["table"] == json.loads(json.dumps(result["table"]))
    assert "figure" in capsys.readouterr().out
