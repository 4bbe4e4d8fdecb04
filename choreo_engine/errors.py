"""User-facing failures.

Each error carries a stable ``code`` (the bot maps it to a message in the user's language)
and a short English ``message`` suitable to show a person as it is.
"""

from __future__ import annotations


class ChoreoError(Exception):
    """Base class: a failure a person should hear about in plain words."""

    code = "error"
    default_message = "Something went wrong with this file."

    def __init__(self, message: str | None = None, **details: object) -> None:
        self.message = message or self.default_message.format(**details)
        self.details = details
        super().__init__(self.message)


class RefusedInputError(ChoreoError):
    """The file a person sent is not a song we can dance to (as opposed to our failing on one):
    refused before any work is kept."""

    code = "refused"
    default_message = "I can't dance to this file."


class NotAudioError(RefusedInputError):
    code = "not_audio"
    default_message = "I couldn't read any sound in this file. Send a song as audio, a voice note or a video with sound."


class NoAudioTrackError(NotAudioError):
    code = "no_audio_track"
    default_message = "This video has no sound track. Send a video with music in it."


class UnsupportedFormatError(NotAudioError):
    """Not a container we read: a playlist, a manifest, an image, an archive, text..."""

    code = "unsupported_format"
    default_message = "I can't open this kind of file. Send a song (mp3, m4a, ogg, flac, wav) or a video with sound."


class EmptyAudioError(RefusedInputError):
    code = "empty"
    default_message = "This file is empty."


class TooShortError(RefusedInputError):
    code = "too_short"
    default_message = "This song is too short: I need at least {beats} beats (one dance segment)."


class TooLongError(RefusedInputError):
    code = "too_long"
    default_message = "This song is too long: the limit is {limit_minutes:g} minutes."


class SilentAudioError(RefusedInputError):
    code = "silent"
    default_message = "This file is silent. Send a song with music in it."


class NoBeatError(RefusedInputError):
    code = "no_beat"
    default_message = "I couldn't find a beat in this song, so there is nothing to dance to."


class NotVideoError(ChoreoError):
    code = "not_video"
    default_message = "I couldn't read this video file."


class NoPersonError(ChoreoError):
    code = "no_person"
    default_message = "I couldn't see a person dancing in this video."


class EmptyLibraryError(ChoreoError):
    code = "empty_library"
    default_message = "The dance library is empty. Run `choreo library demo` first."


class FFmpegError(ChoreoError):
    """ffmpeg exited with an error."""

    code = "ffmpeg_failed"
    default_message = "I couldn't process this media file."


class FFmpegTimeoutError(FFmpegError):
    """ffmpeg ran longer than its timeout and was killed."""

    code = "ffmpeg_timeout"
    default_message = "Processing this media took too long (over {seconds:.0f} s), so I stopped."


class EncodeError(FFmpegError):
    """Encoding piped frames failed: ffmpeg exited with an error or took fewer frames than it should have."""

    code = "encode_failed"
    default_message = "I couldn't encode the video."


class RenderError(ChoreoError):
    code = "render_failed"
    default_message = "I couldn't make the video. Please try again."
