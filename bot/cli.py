"""The ``choreo`` command.

It lives in the application layer because some commands (library, bot, sandbox) need the
database; the engine itself stays free of ``storage`` and ``bot``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from choreo_engine.errors import ChoreoError


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- analyze


def cmd_analyze(args: argparse.Namespace) -> int:
    from choreo_engine.music import audio
    from choreo_engine.settings import Settings

    settings = Settings.from_env()
    _, analysis = audio.load_and_analyze(args.song, settings.max_song_seconds, args.beats)
    if args.json:
        _print_json({"song": str(args.song), **analysis.to_dict()})
        return 0
    print(f"{Path(args.song).name}: {analysis.duration:.1f} s, {analysis.tempo:.1f} BPM, "
          f"{len(analysis.beats)} beats, {analysis.meter}/4, {len(analysis.segments)} segments")
    print("  sections: " + ", ".join(f"{s.label} (group {s.group}) {s.start:.1f}-{s.stop:.1f} s" for s in analysis.sections))
    for seg in analysis.segments:
        levels = "".join(str(v) if v < 10 else "X" for v in seg.loudness_levels)
        print(f"  {seg.index + 1:>3}  {seg.start:7.2f}-{seg.end:7.2f} s  {len(seg.beats):>2} beats  loudness {levels}")
    return 0


# --------------------------------------------------------------------------- plan


def cmd_plan(args: argparse.Namespace) -> int:
    from bot import choreography

    song, loaded, ctx, path = choreography.plan_song(args.song)
    lib = loaded.library
    out = {"song": str(args.song), "tempo": round(song.analysis.tempo, 2), "library_segments": len(lib),
           "segments": []}
    for i, seg in enumerate(song.analysis.segments):
        previous = path[i - 1] if i else None
        options = loaded.planner.candidates(ctx, i, previous, history=path[:i])
        out["segments"].append({
            "index": i, "start": round(seg.start, 3), "end": round(seg.end, 3), "tempo": round(seg.tempo, 1),
            "loudness_levels": seg.loudness_levels.tolist(),
            "candidates": [{**c.to_dict(), "clip": lib.segments[c.position].clip_name,
                            "clip_segment": lib.segments[c.position].index} for c in options.items],
            "note": options.message,
            "auto_pick": {"segment_id": lib.segments[path[i]].id, "clip": lib.segments[path[i]].clip_name,
                          "clip_segment": lib.segments[path[i]].index},
        })
    if args.json:
        _print_json(out)
        return 0
    print(f"{Path(args.song).name}: {len(out['segments'])} segments, {out['tempo']} BPM; "
          f"library of {len(lib)} segments")
    for seg in out["segments"]:
        print(f"\nsegment {seg['index'] + 1}  {seg['start']:.2f}-{seg['end']:.2f} s  {seg['tempo']} BPM  "
              f"loudness {''.join(str(min(v, 9)) for v in seg['loudness_levels'])}")
        print("   #  total  music  ampl  trans  tempo  stretch  clip")
        for c in seg["candidates"]:
            mark = "*" if (c["clip"], c["clip_segment"]) == (seg["auto_pick"]["clip"], seg["auto_pick"]["clip_segment"]) else " "
            print(f"  {mark}{c['rank']}  {c['total']:5.1f}  {c['music']:5.1f}  {c['amplitude']:4.0f}  "
                  f"{c['transition']:5.1f}  {c['tempo']:5.1f}  {c['stretch']:7.3f}  {c['clip']} #{c['clip_segment'] + 1}")
        if seg["note"]:
            print(f"   ({seg['note']})")
    print("\nauto path (* above): " + ", ".join(f"{s['auto_pick']['clip']} #{s['auto_pick']['clip_segment'] + 1}"
                                              for s in out["segments"]))
    return 0


# --------------------------------------------------------------------------- render, demo


def _render_song(song_path: Path, output: Path, mode: str, picks: str) -> tuple[Path, Path]:
    from bot import choreography
    from bot.progress import progress_bar

    song, loaded, ctx, auto = choreography.plan_song(song_path)
    ranks = choreography.parse_picks(picks, len(song.analysis.segments))
    path = auto if ranks is None else choreography.resolve_picks(loaded, ctx, ranks)
    output.parent.mkdir(parents=True, exist_ok=True)
    sheet = output.with_name(output.stem + "-sheet.png")
    with progress_bar(total=100, desc=f"rendering ({mode})", unit="%") as bar:
        def progress(fraction: float) -> None:
            bar.update(max(0, round(fraction * 100) - bar.n))

        video = choreography.render_dance(song.analysis, [loaded.library.segments[row] for row in path], song_path,
                                          output, sheet, mode, progress)
    return video, sheet


def cmd_render(args: argparse.Namespace) -> int:
    if args.practice or args.export:
        return _learn_song(args)
    video, sheet = _render_song(args.song, args.output, args.mode, args.picks)
    print(f"video: {video}\nsheet: {sheet}")
    return 0


def _learn_song(args: argparse.Namespace) -> int:
    """``render --practice`` (the practice video) and ``render --export FORMAT`` (poses) of the choreography."""
    import time

    from bot import choreography, practice
    from bot.progress import progress_bar

    song, loaded, ctx, auto = choreography.plan_song(args.song)
    ranks = choreography.parse_picks(args.picks, len(song.analysis.segments))
    path = auto if ranks is None else choreography.resolve_picks(loaded, ctx, ranks)
    lib_segments = [loaded.library.segments[row] for row in path]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if args.export:
        files = practice.export_dance(song.analysis, lib_segments, args.output.parent, (args.export,),
                                      stem=args.output.stem)
        print(f"{args.export}: {files[args.export]}")
    else:
        n_parts = len(song.analysis.segments)
        if args.loop_part is not None and not 1 <= args.loop_part <= n_parts:
            raise SystemExit(f"--loop-part must be 1-{n_parts}")
        loop = None if args.loop_part is None else args.loop_part - 1
        with progress_bar(total=100, desc=f"practice ({args.speed:g}x)", unit="%") as bar:
            video = practice.practice_dance(song.analysis, lib_segments, args.song, args.output, mode=args.mode,
                                            speed=args.speed, loop_part=loop,
                                            progress=lambda f: bar.update(max(0, round(f * 100) - bar.n)))
        print(f"practice video: {video}")
    print(f"({time.monotonic() - started:.1f} s after planning)")
    return 0


def demo_song(settings) -> Path:
    """The bundled example: a synthesized song (not one of the library's), written once."""
    import soundfile as sf

    from choreo_engine.starter import synth

    path = settings.data_dir / "demo" / "choreo-demo-song.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        song = synth.synthesize_song("pop", tempo=116.0, key="D major", n_beats=96, seed=20261124)
        tmp = path.with_suffix(".part.wav")  # an interrupted first run leaves no half song to reuse
        sf.write(tmp, song.y, song.sr)
        os.replace(tmp, path)
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from bot.admin import starter_library
    from choreo_engine.settings import Settings

    settings = Settings.from_env()
    built = asyncio.run(starter_library.ensure_library(settings, show_progress=True))
    if built:
        print(f"built the starter library: {built['added']} clips, {built['segments']} segments "
              f"in {built['seconds']:.0f} s")
    song = Path(args.song) if args.song else demo_song(settings)
    output = Path(args.output) if args.output else settings.data_dir / "demo" / f"{song.stem}-{args.mode}.mp4"
    print(f"choreographing {song} ...")
    video, sheet = _render_song(song, output, args.mode, "auto")
    print(f"video: {video.resolve()}\nsheet: {sheet.resolve()}")
    return 0


# --------------------------------------------------------------------------- library


def cmd_library(args: argparse.Namespace) -> int:
    import asyncio

    from bot.admin import library as library_admin

    if args.action == "add":
        from bot.admin import adding

        def report(r: adding.AddResult) -> None:
            if r.status == "added":
                style = f", style {r.style}{' (guess)' if r.style_guessed else ''}" if r.style else ""
                print(f"added    {r.path}: {len(r.clip_ids)} clips, {r.segments} segments, "
                      f"{r.kept_share:.0%} of {r.duration:.0f} s kept{style}")
            elif r.status == "already there":
                print(f"skipped  {r.path}: already in the library")
            else:
                print(f"refused  {r.path}: {r.message}", file=sys.stderr)

        results = asyncio.run(adding.add_sources(args.videos, style=args.style, performer=args.performer,
                                                 licence=args.licence, show_progress=True, report=report))
        print(adding.summary_table(results))
        return 0 if all(r.status != "failed" for r in results) else 1
    if args.action == "demo":
        from bot.admin import starter_library

        summary = asyncio.run(starter_library.build(n_songs=args.songs, workers=args.workers, show_progress=True))
        print(f"starter library: {summary['added']} clips added, {summary['segments']} segments "
              f"in {summary['seconds']:.0f} s (poses from {summary['pose_sources']})")
        return 0
    if args.action == "stats":
        stats = asyncio.run(library_admin.library_stats())
        if args.json:
            _print_json(stats)
        else:
            print(f"{stats['clips']} clips, {stats['segments']} segments, {stats['dance_minutes']} minutes of dance")
            print(f"poses from: {stats['clips_by_pose_source']}")
            print(f"segments by style: {stats['segments_by_style']}")
            print(f"database {stats['database_bytes'] / 1e6:.1f} MB, poses {stats['pose_files_bytes'] / 1e6:.1f} MB, "
                  f"videos {stats['video_files_bytes'] / 1e6:.1f} MB")
            for c in stats["clip_list"]:
                style = (c["style"] or c["kind"]) + ("?" if c["style_guessed"] else "")
                source = "  " + " · ".join(c[k] for k in ("performer", "source", "licence", "source_date") if c[k])
                print(f"  {c['id']:>4}  {c['name'][:40]:<40} {style:<9} {c['segments']:>3} seg "
                      f"{c['tempo']:>6.1f} BPM  {c['pose_source']} ({c['detection_rate']:.0%} detected)"
                      f"{source.rstrip()}")
            print("(style? = a guess from the music)")
            if stats["stale_clips"]:
                print(f"left out of matching: {len(stats['stale_clips'])} clips stored without sound by an early "
                      f"version; remove them and add their videos again: {', '.join(stats['stale_clips'])}")
        return 0
    if args.action == "remove":
        removed = asyncio.run(library_admin.remove_clip(args.clip))
        print(f"removed clip {removed} (no longer offered; sessions that picked it still render it)"
              if removed else f"no clip {args.clip!r} in the library")
        return 0 if removed else 1
    if args.action == "export":
        n = asyncio.run(library_admin.export_csv(args.file))
        print(f"wrote {n} segments to {args.file}")
        return 0
    raise SystemExit(f"unknown action {args.action!r}")


# --------------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "analyze":
        from choreo_engine.bench.analyze import bench_analyze

        _print_json(bench_analyze(runs=args.runs))
    elif args.what == "render":
        from choreo_engine.bench.render import bench_render

        _print_json(bench_render(runs=args.runs))
    elif args.what == "practice":
        from choreo_engine.bench.practice import bench_practice

        _print_json(bench_practice(runs=args.runs, song=args.song))
    elif args.what == "downbeats":
        from choreo_engine.bench.downbeats import bench_downbeats

        _print_json(bench_downbeats())
    elif args.what == "tempo":
        from choreo_engine.bench.tempo import bench_tempo

        _print_json(bench_tempo())
    elif args.what == "ingest":
        from choreo_engine.bench.ingest import bench_ingest

        _print_json(bench_ingest(runs=args.runs))
    elif args.what == "retrieval":
        from choreo_engine.bench.retrieval import evaluate_all

        _print_json(evaluate_all(max_tracks=args.tracks))
    elif args.what == "soak":
        from bot.config import BotSettings, megabytes
        from bot.soak import bench_soak

        # the retention settings in force (CHOREO_KEEP_*, CHOREO_DATA_BUDGET, ...), unless given here
        s = BotSettings.from_env()
        _print_json(bench_soak(
            days=args.days, songs_per_hour=args.rate, cancelled=args.cancelled, failed=args.failed,
            budget_mb=megabytes(args.budget) if args.budget is not None else s.data_budget_mb,
            keep_done_hours=s.keep_done_hours, keep_failed_hours=s.keep_failed_hours,
            keep_cancelled_hours=s.keep_cancelled_hours, keep_rows_days=s.keep_rows_days,
            sweep_minutes=args.sweep_minutes or s.sweep_minutes, seed=args.seed))
    elif args.what == "scale":
        from bot.bench_scale import bench_scale

        _print_json(bench_scale(songs=args.dances, song_seconds=args.song_seconds))
    elif args.what in ("library", "plan", "bot"):
        from bot import bench

        if args.what == "library":
            _print_json(bench.bench_library(runs=args.runs, songs=args.songs))
        elif args.what == "plan":
            _print_json(bench.bench_plan(runs=args.runs, timing=not args.no_timing))
        else:
            _print_json(bench.bench_bot(runs=args.runs, pick_each=args.pick_each, think=args.think,
                                        auto_after=args.auto_after))
    else:
        raise SystemExit(f"unknown benchmark {args.what!r}")
    return 0


# --------------------------------------------------------------------------- bot, run


def cmd_bot(args: argparse.Namespace) -> int:
    from bot import app

    app.run()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """A Celery worker for the bot's engine work (needs CHOREO_BROKER_URL)."""
    from bot.config import BotSettings
    from bot.tasks import run_worker

    settings = BotSettings.from_env()
    run_worker(settings, concurrency=args.concurrency or settings.workers, name=args.name, loglevel=args.loglevel)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``make run``: the bot when a token is set, otherwise the best offline experience."""
    from bot.config import BotSettings

    settings = BotSettings.from_env()
    if settings.token:
        from bot import app

        app.run(settings)
        return 0
    from bot.sandbox.emulator import default_spec_path

    if default_spec_path().exists():
        print("No TELEGRAM_BOT_TOKEN: starting the local sandbox chat (the real bot, in your browser).")
        return cmd_sandbox(argparse.Namespace(port=int(os.environ.get("CHOREO_SANDBOX_PORT", "8080")),
                                              host="127.0.0.1"))
    # The sandbox's Bot API emulator checks every request against the spec it carries (missing
    # only from a broken install).
    print("No TELEGRAM_BOT_TOKEN and no Bot API spec for the sandbox: running the offline demo instead.")
    return cmd_demo(argparse.Namespace(song=None, mode="clips", output=None))


def cmd_health(args: argparse.Namespace) -> int:
    """The database, the broker (when set) and the media root: one JSON line each; 1 if any fails."""
    from bot import health

    return health.main(timeout=args.timeout)


def cmd_sandbox(args: argparse.Namespace) -> int:
    """A local chat page in the browser, on the bot's real code (no Telegram needed)."""
    from bot.config import BotSettings
    from bot.sandbox.web import run_sandbox
    from storage.owner import DataDirInUse, DataDirLock

    owner = DataDirLock(BotSettings.from_env().engine.data_dir)
    try:
        owner.acquire()  # the sandbox's bot and a `choreo bot` on one data dir would steal each other's jobs
    except DataDirInUse as exc:
        raise SystemExit(f"choreo sandbox: {exc}") from None
    run_sandbox(port=args.port, host=args.host)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """``choreo db upgrade``: bring the database (CHOREO_DATABASE_URL, or SQLite in the data dir)
    to the newest schema, as every start does; prints its revision."""
    from choreo_engine.settings import Settings
    from storage import Database

    async def upgrade() -> str | None:
        settings = Settings.from_env()
        async with await Database.open(settings.database, settings.media_dir) as db:
            return await db.revision()

    print(json.dumps({"revision": asyncio.run(upgrade())}))
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

    p = sub.add_parser("plan", help="six candidates per segment with every score, and the auto path")
    p.add_argument("song", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("render", help="render a choreography for a song")
    p.add_argument("song", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--mode", choices=["clips", "avatar"], default="clips")
    p.add_argument("--picks", default="auto", help="auto, or candidate numbers per segment: 1,3,2,...")
    p.add_argument("--practice", action="store_true",
                   help="a practice video instead: mirrored, slowed down, with the 8-count on screen")
    p.add_argument("--speed", type=float, choices=[0.5, 0.75, 1.0], default=0.5, help="practice speed (default 0.5)")
    p.add_argument("--loop-part", type=int, help="practice: loop this part (1-based) four times")
    p.add_argument("--export", choices=["bvh", "json", "csv"], help="the dance's poses as a file instead of a video")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("demo", help="build the starter library if needed, then choreograph a song")
    p.add_argument("song", nargs="?", help="a song (default: a bundled synthesized one)")
    p.add_argument("--mode", choices=["clips", "avatar"], default="clips")
    p.add_argument("-o", "--output")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("library", help="the dance library: add, demo, stats, remove, export")
    lib = p.add_subparsers(dest="action", required=True)
    q = lib.add_parser("add", help="add dance videos (with their music): files, folders (recursive) or links")
    q.add_argument("videos", nargs="+", help="video files, folders, or links (playlists and channels expand)")
    q.add_argument("--style", help="the dance style (default: a guess from the music)")
    q.add_argument("--performer", help="who dances or made the videos (default: the uploader, for links)")
    q.add_argument("--licence", help="the licence the videos are used under")
    q = lib.add_parser("demo", help="build the procedural starter library")
    q.add_argument("--songs", type=int, default=40)
    q.add_argument("--workers", type=int, default=2)
    q = lib.add_parser("stats", help="what the library holds")
    q.add_argument("--json", action="store_true")
    q = lib.add_parser("remove", help="remove a clip (id, name or hash): no longer offered; sessions that picked it still render it")
    q.add_argument("clip")
    q = lib.add_parser("export", help="one CSV row per library segment, one column per feature (and its credits)")
    q.add_argument("file")
    p.set_defaults(func=cmd_library)

    p = sub.add_parser("bot", help="run the Telegram bot (long polling)")
    p.set_defaults(func=cmd_bot)
    p = sub.add_parser("worker", help="a Celery worker for the bot's engine work (CHOREO_BROKER_URL), any machine")
    p.add_argument("--concurrency", type=int, default=0, help="engine processes (default: CHOREO_WORKERS)")
    p.add_argument("--name", default=None, help="worker name (default: choreo-<pid>)")
    p.add_argument("--loglevel", default="INFO")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("run", help="what `make run` does: the bot with a token, else the offline demo")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("health", help="can this machine reach the database, the broker and the media root? (JSON; exit 1 if not)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per check (default 5)")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("sandbox", help="try the bot without Telegram: a chat page in the browser")
    p.add_argument("--port", type=int, default=8080, help="web page port (default 8080; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1, this computer only)")
    p.set_defaults(func=cmd_sandbox)

    p = sub.add_parser("db", help="the database: `upgrade` migrates it to the newest schema (Alembic)")
    p.add_argument("action", choices=["upgrade"])
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("bench", help="benchmarks; print JSON")
    p.add_argument("what", choices=["analyze", "retrieval", "library", "plan", "render", "bot", "practice", "soak", "downbeats", "ingest",
                                      "scale", "tempo"])
    p.add_argument("--song", type=Path, help="practice: the song (default: Vibe Ace)")
    p.add_argument("--songs", type=int, default=40, help="library: songs in the timed starter build")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--tracks", type=int, default=0, help="retrieval: limit the number of tracks (0 = all)")
    p.add_argument("--days", type=float, default=7.0, help="soak: simulated days")
    p.add_argument("--rate", type=float, default=20.0, help="soak: songs per hour")
    p.add_argument("--cancelled", type=float, default=0.15, help="soak: share of songs cancelled")
    p.add_argument("--failed", type=float, default=0.05, help="soak: share of songs that fail")
    p.add_argument("--budget", help="soak: data directory budget, e.g. 2GB (default: CHOREO_DATA_BUDGET)")
    p.add_argument("--sweep-minutes", type=float, default=0, help="soak: sweep interval (default: CHOREO_SWEEP_MINUTES)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-timing", action="store_true", help="plan: only the choreography metrics, no planning times")
    p.add_argument("--dances", type=int, default=6, help="scale: songs danced at once per configuration")
    p.add_argument("--song-seconds", type=float, default=30.0, help="scale: length of each song")
    p.add_argument("--pick-each", action="store_true", help="bot: also a song whose every part is picked by hand")
    p.add_argument("--think", type=float, default=2.0, help="bot --pick-each: seconds between a preview and its pick")
    p.add_argument("--auto-after", type=float, default=0.0,
                   help="bot: seconds between the first preview and the tap on Auto-pick the rest")
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
