"""``choreo bench soak`` (issue 12): half a simulated day of songs against a small budget."""

from __future__ import annotations

from bot.soak import bench_soak


def test_the_budget_holds_after_every_sweep():
    result = bench_soak(days=0.5, songs_per_hour=20, budget_mb=400, sweep_minutes=15, sample_hours=0.25)
    end, curve = result["end"], result["curve"]
    assert end["written_without_retention_mb"] > 3 * 400  # the budget really binds
    assert len(curve) == end["sweeps"] == 48
    assert all(point["after_sweep_mb"] <= 400 for point in curve)
    assert max(point["before_sweep_mb"] for point in curve) > 400  # it grew past it between sweeps
    assert end["removed"]["evicted"] > 0 and end["removed"]["sent_previews"] > 0
    # what stays is the newest: the folders left are few next to the songs sent
    assert end["session_folders_left"] < end["songs"] / 3
    assert end["session_rows_left"] == end["songs"]  # rows stay (history, sharing) for keep_rows_days
