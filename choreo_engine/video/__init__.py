"""Making the videos of step 7: candidate previews, the final cross-edited dance (clips or the
mannequin avatar) and the choreography sheet.

Modules, in the order a render uses them: :mod:`.shots` (a library segment placed on a song
segment), :mod:`.sources` (reading clips, fitting frames, the cross-edit), :mod:`.stage` (the
avatar), :mod:`.encode` (bitrate budget, the pipe into x264), :mod:`.final`, :mod:`.preview`,
:mod:`.sheet`. The names below are the stage's public face, for callers outside it.
"""

from ..errors import EncodeError, RenderError
from .encode import AUDIO_KBPS, audio_bitrate, video_bitrate_budget
from .final import final_look, final_sound, poster_frame, render_final, render_final_in_pieces
from .preview import preview_layout, render_preview, render_single_preview
from .sheet import render_sheet, sheet_size
from .shots import Shot, VideoInfo, schedule, video_info
from .sources import frame_size, snap_aspect, source_frame_times
from .stage import FLOOR_ROW, retime_poses, stage_poses

__all__ = [
    "AUDIO_KBPS",
    "EncodeError",
    "FLOOR_ROW",
    "RenderError",
    "Shot",
    "VideoInfo",
    "audio_bitrate",
    "frame_size",
    "preview_layout",
    "final_look",
    "final_sound",
    "poster_frame",
    "render_final",
    "render_final_in_pieces",
    "render_preview",
    "render_sheet",
    "render_single_preview",
    "retime_poses",
    "schedule",
    "sheet_size",
    "snap_aspect",
    "source_frame_times",
    "stage_poses",
    "video_bitrate_budget",
    "video_info",
]
