"""The ``choreo`` command.

It lives in the application layer because some commands (library, bot, sandbox) need the
database; the engine itself stays free of ``storage`` and ``bot``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from choreo_engine.errors import ChoreoError


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- analyze


def cmd_analyze(args: argparse.Namespace) -> int:
    from choreo_engine import audio
    from choreo_engine.settings import Settings

    settings = Settings.from_env()
    _, analysis = audio.load_and_analyze(args.song, settings.max_song_seconds, args.beats)
    if args.json:
        _print_json({"song": str(args.song), **analysis.to_dict()})
        return 0
    print(f"{Path(args.song).name}: {analysis.duration:.1f} s, {analysis.tempo:.1f} BPM, "
          f"{len(analysis.beats)} beats, {len(analysis.segments)} segments of {analysis.beats_per_segment} beats")
    for seg in analysis.segments:
        levels = "".join(str(v) if v < 10 else "X" for v in seg.loudness_levels)
        print(f"  {seg.index + 1:>3}  {seg.start:7.2f}-{seg.end:7.2f} s  {len(seg.beats):>2} beats  loudness {levels}")
    return 0


# --------------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    from choreo_engine import bench

    if args.what == "analyze":
        _print_json(bench.bench_analyze(runs=args.runs))
    elif args.what == "retrieval":
        from choreo_engine import retrieval_eval

        _print_json(retrieval_eval.evaluate_all(max_tracks=args.tracks))
    else:
        raise SystemExit(f"unknown benchmark {args.what!r}")
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="choreo", description="Choreograph a dance for any song.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="tempo, beats, 8-beat segments and loudness levels of a song")
    p.add_argument("song", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON (schema in the README)")
    p.add_argument("--beats", type=int, default=8, help="beats per segment (default 8)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("bench", help="benchmarks; print JSON")
    p.add_argument("what", choices=["analyze", "retrieval"])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--tracks", type=int, default=0, help="retrieval: limit the number of tracks (0 = all)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ChoreoError as exc:
        print(f"choreo: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
