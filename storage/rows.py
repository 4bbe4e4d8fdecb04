"""Typed rows: what the repositories return, and the statuses stored in their columns.

The statuses are ``StrEnum`` members, so they are stored (and compared) as the same strings
older databases already hold; no migration is needed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Mapping, TypeVar


class SessionStatus(StrEnum):
    QUEUED = "queued"
    ANALYSING = "analysing"
    CHOOSING = "choosing"
    RENDERING = "rendering"
    DELIVERING = "delivering"  # the dance is being sent: too late to cancel
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


OPEN_STATUSES = (SessionStatus.QUEUED, SessionStatus.ANALYSING, SessionStatus.CHOOSING, SessionStatus.RENDERING,
                 SessionStatus.DELIVERING)
# a cancel and a delivery never both happen: once the dance is being sent, it is too late
CANCELLABLE_STATUSES = OPEN_STATUSES[:-1]
FINISHED_STATUSES = (SessionStatus.DONE, SessionStatus.CANCELLED, SessionStatus.FAILED)


class SegmentStatus(StrEnum):
    """A song segment's place in choosing: not yet offered, its preview sent, its move chosen."""

    PENDING = "pending"
    OFFERED = "offered"
    PICKED = "picked"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobKind(StrEnum):
    ANALYSE = "analyse"
    OFFER = "offer"
    RENDER = "render"
    PRACTICE = "practice"  # a practice video of a finished dance
    EXPORT = "export"  # a finished dance's poses as files
    AUTO = "auto"  # choose the rest automatically (a tap on Auto), payload: user and pressed message
    PIECES = "pieces"  # pieces of the final video the picks so far decide, made ahead (after a pick), lowest priority
    SHEET = "sheet"  # the choreography sheet of a first dance, made and sent after it


class PickMode(StrEnum):
    """Who chooses in a chat: the one who sent the song, or everyone by vote."""

    OWNER = "owner"
    VOTE = "vote"


class Delivery(StrEnum):
    """What a chat's songs get first: parts to choose one by one, or the auto-picked dance at once."""

    CHOOSE = "choose"
    AUTO = "auto"


class PickSource(StrEnum):
    USER = "user"
    AUTO = "auto"
    VOTE = "vote"


class ButtonAction(StrEnum):
    PICK = "pick"
    AUTO = "auto"
    CANCEL = "cancel"
    CLOSE = "close"  # close a vote now
    MODE = "mode"  # render the other mode (value 0: clips, 1: avatar)
    AGAIN = "again"
    PRACTICE = "practice"  # open the practice menu under a finished dance
    PRACTICE_LOOP = "practice_loop"  # list the parts to loop (value: the page)
    PRACTICE_GO = "practice_go"  # a part and a speed (value: (part + 1) * 10 + speed index)
    EXPORT = "export"  # send the poses as BVH and JSON
    AUTO_DANCE = "auto_dance"  # on the first preview: the auto-picked dance at once
    CHANGE = "change"  # under a dance: list the parts to change one
    CHANGE_PAGE = "change_page"  # the part list's page (value)
    CHANGE_PART = "change_part"  # offer the candidates of part ``idx`` again
    CHANGE_PICK = "change_pick"  # value: the library segment id that replaces part ``idx``
    CHANGE_CLOSE = "change_close"  # close the vote on changing part ``idx``; value: its deadline (epoch s)
    RESEND = "resend"  # /history: send version ``value`` again


Row = TypeVar("Row")


def from_row(cls: type[Row], row: Mapping[str, Any], **converted: Any) -> Row:
    """A dataclass from a database row: its columns by field name (columns it does not know
    are left out), with ``converted`` values taking the place of raw ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: row[k] for k in row.keys() if k in names}
    values.update(converted)
    return cls(**values)


@dataclass(frozen=True)
class Session:
    """One song being choreographed in one chat."""

    id: str
    chat_id: int
    chat_type: str
    owner_id: int
    owner_name: str
    language: str
    mode: PickMode
    status: SessionStatus
    song_name: str
    song_file_id: str | None = None
    song_unique_id: str | None = None
    song_path: str | None = None
    song_duration: float | None = None
    source_message_id: int | None = None
    progress_message_id: int | None = None
    analysis: str | None = None  # JSON of the SongAnalysis
    descriptors: bytes | None = None  # float32 (segments, D)
    descriptor_tag: str = ""
    n_segments: int | None = None
    current_segment: int = 0
    render_mode: str = "clips"
    result_message_id: int | None = None
    delivery_message_id: int | None = None  # the placeholder the dance being delivered goes into
    error: str | None = None
    created_at: str = ""
    updated_at: str = ""
    finished_at: str | None = None
    delivery: str = "choose"  # Delivery

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Session":
        return from_row(cls, row, mode=PickMode(row["mode"]), status=SessionStatus(row["status"]))

    @property
    def private(self) -> bool:
        return self.chat_type == "private"

    def song_analysis(self) -> dict:
        return json.loads(self.analysis)


@dataclass(frozen=True)
class SessionSegment:
    """One song segment of a session: its preview message, its pick and its vote deadline."""

    session_id: str
    idx: int
    status: SegmentStatus
    preview_message_id: int | None = None
    picked_rank: int | None = None
    picked_segment_id: int | None = None
    picked_by: int | None = None
    picked_at: str | None = None
    pick_source: str | None = None
    vote_deadline: float | None = None  # set when the segment was offered for a vote

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "SessionSegment":
        return from_row(cls, row, status=SegmentStatus(row["status"]))


@dataclass(frozen=True)
class Candidate:
    """One of the (up to six) library segments offered for a song segment."""

    session_id: str
    idx: int
    rank: int
    library_segment_id: int
    scores: dict
    total: float
    stretch: float

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Candidate":
        return from_row(cls, row, scores=json.loads(row["scores"]))


@dataclass(frozen=True)
class Button:
    """An inline button: its token is the callback data, looked up to find what it does."""

    token: str
    session_id: str
    idx: int | None
    action: ButtonAction
    value: int | None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Button":
        return from_row(cls, row, action=ButtonAction(row["action"]))


@dataclass(frozen=True)
class Job:
    id: int
    session_id: str
    kind: JobKind
    idx: int | None
    payload: dict
    status: JobStatus
    attempts: int = 0
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Job":
        return from_row(cls, row, kind=JobKind(row["kind"]), status=JobStatus(row["status"]),
                        payload=json.loads(row["payload"]))


@dataclass(frozen=True)
class Result:
    """A rendered dance of a session in one mode (clips or avatar)."""

    session_id: str
    mode: str
    video_path: str
    sheet_path: str | None
    video_sha256: str
    id: int | None = None
    created_at: str = ""

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Result":
        return from_row(cls, row)


@dataclass(frozen=True)
class DanceVersion:
    """One rendered version of a session's dance: its picks, the part it changed and its video."""

    session_id: str
    number: int
    mode: str
    picks: list[int]  # library segment id per part
    changed_part: int | None
    video_path: str
    video_sha256: str
    created_at: str = ""

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "DanceVersion":
        return from_row(cls, row, picks=json.loads(row["picks"]))


@dataclass(frozen=True)
class SharedDance:
    """A user's finished dance with an uploaded video, for inline sharing."""

    session_id: str
    song_name: str
    finished_at: str
    mode: str
    file_id: str


@dataclass(frozen=True)
class StoredClip:
    """A library clip as the re-description of its descriptors needs it."""

    id: int
    name: str
    video_path: str  # absolute
    descriptor_tag: str


@dataclass(frozen=True)
class MusicRange:
    """The part of a clip's sound a library segment's descriptor covers, and its beats."""

    segment_id: int
    start: float
    end: float
    beats: list[float]
