"""What the bot says, in English and Korean (chosen by the user's Telegram language)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "help": (
            "💃 <b>Choreo</b> makes a dance for any song.\n\n"
            "1. Send me a song: audio, a voice note, an audio file or a video with sound "
            "(up to {max_mb} MB and {max_minutes} minutes).\n"
            "2. I cut it into 8-beat parts and show six dance moves for each part. Tap 1–6 to pick, "
            "or «Auto-pick the rest».\n"
            "3. You get one dance video set to your song, and a choreography sheet.\n\n"
            "/cancel stops the current song · /history lists your dances"
        ),
        "help_group": (
            "\n\n<b>In groups</b>: reply to a song with /choreo, send a song with /choreo in its caption, "
            "or mention me in the caption. With Telegram's default privacy mode I only see commands, "
            "mentions and replies to me, so use one of those. /mode vote lets everyone vote per part "
            "(the starter or an admin can switch it)."
        ),
        "unsupported": (
            "I can only dance to sound 🎵 Send me a song as audio, a voice note, an audio file or a video with sound."
        ),
        "too_big": "This file is too big ({size_mb:.0f} MB). I can take files up to {max_mb} MB.",
        "too_long": "This song is too long ({minutes:.1f} min). The limit is {max_minutes:g} minutes.",
        "queued": "🎧 Got «{song}». You're number {position} in the queue.",
        "analysing": "🎧 «{song}»: listening for the beat…",
        "matching": "🔎 «{song}»: {segments} parts of 8 beats. Finding dance moves…",
        "previews": "🎬 «{song}»: preparing the previews…",
        "rendering": "🎞 «{song}»: putting your dance together… {percent}%",
        "owner_suffix": " · 🎤 {owner}",
        "vote_hint": "\nVote with 1–6 (tap again to change your vote). The vote closes in {minutes} min or when the starter closes it.",
        "vote_counted": "Your vote: {rank}",
        "mode_set": "Pick mode for this chat: {mode}.",
        "mode_name_owner": "only the person who sent the song picks",
        "mode_name_vote": "everyone votes",
        "mode_usage": "Use /mode vote or /mode owner.",
        "mode_denied": "Only a group admin or the person who started a song can change the mode.",
        "mode_private": "Voting is for groups: add me to a group and use /mode vote there.",
        "choreo_usage": "Reply /choreo to a song, or send a song with /choreo in its caption.",
        "share_caption": "💃 A Choreo dance for «{song}»",
        "ready": "✅ «{song}»: {segments} parts · {tempo} BPM. Pick a move for each part below.",
        "btn_close": "🗳 Close vote",
        "offer": "Part {part} of {total} ({start}–{end}) · «{song}»\nPick a move:",
        "offer_short": "\n⚠️ {note}",
        "picked": "Part {part} of {total}: move {rank} ✓",
        "picked_auto": "Part {part} of {total}: move {rank} (auto) ✓",
        "btn_auto": "✨ Auto-pick the rest",
        "btn_cancel": "✖ Cancel",
        "btn_clips": "🎬 Dancers",
        "btn_avatar": "🧍 Mannequin",
        "btn_again": "🔁 New song",
        "btn_share": "📤 Share",
        "done": "💃 Your dance for «{song}» ({minutes}:{seconds:02d}). Mode: {mode}.",
        "sheet": "📋 Choreography sheet for «{song}»",
        "mode_clips": "dancers",
        "mode_avatar": "mannequin",
        "cancelled": "Cancelled «{song}». Send another song any time.",
        "nothing_to_cancel": "There is nothing to cancel.",
        "failed": "😕 Sorry, something went wrong with «{song}». Please try again.",
        "history_empty": "No dances yet. Send me a song!",
        "history": "Your dances:\n{items}",
        "history_group": "Dances in this chat:\n{items}",
        "alert_stale": "This button is no longer active.",
        "alert_owner_only": "Only {name} picks here.",
        "alert_unknown": "I don't know this button. Send a song to start.",
        "alert_done_already": "Already picked ✓",
        "alert_busy": "Still working on it…",
        "again": "Send me another song 🎵",
        "error.not_audio": "I couldn't read any sound in this file. Send a song as audio, a voice note or a video with sound.",
        "error.no_audio_track": "This video has no sound track. Send a video with music in it.",
        "error.empty": "This file is empty.",
        "error.too_short": "This song is too short: I need at least 8 beats.",
        "error.too_long": "This song is too long: the limit is {max_minutes:g} minutes.",
        "error.silent": "This file is silent. Send a song with music in it.",
        "error.no_beat": "I couldn't find a steady beat in this song.",
        "error.empty_library": "My dance library is empty right now. Please try again later.",
        "gave_up": "😕 I tried {attempts} times and could not finish «{song}». Please send it again later.",
        "too_many_songs": "You already have {limit} songs in the works. Let one finish (or /cancel it) first.",
        "too_many_songs_group": "This chat already has {limit} songs in the works. Let one finish first.",
        "cancel_too_late": "Too late to cancel: the dance is on its way.",
        "delivering": "🎬 Your dance for «{song}» is on its way…",
    },
    "ko": {
        "help": (
            "💃 <b>Choreo</b>는 어떤 노래든 춤을 만들어 드려요.\n\n"
            "1. 노래를 보내 주세요: 오디오, 음성 메시지, 오디오 파일, 소리가 있는 동영상 "
            "(최대 {max_mb}MB, {max_minutes}분).\n"
            "2. 8비트씩 나누어 파트마다 춤 동작 6개를 보여 드려요. 1–6을 눌러 고르거나 «나머지 자동 선택»을 누르세요.\n"
            "3. 노래에 맞춘 춤 영상 하나와 안무 시트를 받아요.\n\n"
            "/cancel 현재 노래 취소 · /history 내 춤 목록"
        ),
        "help_group": (
            "\n\n<b>그룹에서는</b>: 노래에 /choreo로 답장하거나, 캡션에 /choreo를 넣어 노래를 보내거나, "
            "캡션에서 저를 멘션하세요. 텔레그램 기본 개인정보 모드에서는 명령어, 멘션, 제게 온 답장만 보여요. "
            "/mode vote로 모두가 파트마다 투표할 수 있어요 (시작한 사람이나 관리자가 바꿀 수 있어요)."
        ),
        "unsupported": "저는 소리에 맞춰서만 춤출 수 있어요 🎵 오디오, 음성 메시지, 오디오 파일, 소리가 있는 동영상을 보내 주세요.",
        "too_big": "파일이 너무 커요 ({size_mb:.0f}MB). {max_mb}MB까지 받을 수 있어요.",
        "too_long": "노래가 너무 길어요 ({minutes:.1f}분). 최대 {max_minutes:g}분이에요.",
        "queued": "🎧 «{song}» 받았어요. 대기 순서 {position}번이에요.",
        "analysing": "🎧 «{song}»: 박자를 듣고 있어요…",
        "matching": "🔎 «{song}»: 8비트 파트 {segments}개. 춤 동작을 찾고 있어요…",
        "previews": "🎬 «{song}»: 미리보기를 준비하고 있어요…",
        "rendering": "🎞 «{song}»: 춤 영상을 만들고 있어요… {percent}%",
        "owner_suffix": " · 🎤 {owner}",
        "vote_hint": "\n1–6으로 투표하세요 (다시 누르면 투표가 바뀌어요). {minutes}분 후 또는 시작한 사람이 마감하면 끝나요.",
        "vote_counted": "내 투표: {rank}",
        "mode_set": "이 채팅의 선택 방식: {mode}.",
        "mode_name_owner": "노래를 보낸 사람만 고르기",
        "mode_name_vote": "모두 투표하기",
        "mode_usage": "/mode vote 또는 /mode owner 를 사용하세요.",
        "mode_denied": "그룹 관리자나 노래를 시작한 사람만 방식을 바꿀 수 있어요.",
        "mode_private": "투표는 그룹에서 할 수 있어요: 저를 그룹에 추가하고 /mode vote 를 쓰세요.",
        "choreo_usage": "노래에 /choreo로 답장하거나, 캡션에 /choreo를 넣어 노래를 보내세요.",
        "share_caption": "💃 «{song}»에 맞춘 Choreo 춤",
        "ready": "✅ «{song}»: 파트 {segments}개 · {tempo} BPM. 아래에서 파트마다 동작을 고르세요.",
        "btn_close": "🗳 투표 마감",
        "offer": "파트 {part}/{total} ({start}–{end}) · «{song}»\n동작을 고르세요:",
        "offer_short": "\n⚠️ {note}",
        "picked": "파트 {part}/{total}: 동작 {rank} ✓",
        "picked_auto": "파트 {part}/{total}: 동작 {rank} (자동) ✓",
        "btn_auto": "✨ 나머지 자동 선택",
        "btn_cancel": "✖ 취소",
        "btn_clips": "🎬 댄서",
        "btn_avatar": "🧍 마네킹",
        "btn_again": "🔁 새 노래",
        "btn_share": "📤 공유",
        "done": "💃 «{song}»에 맞춘 춤이에요 ({minutes}:{seconds:02d}). 모드: {mode}.",
        "sheet": "📋 «{song}» 안무 시트",
        "mode_clips": "댄서",
        "mode_avatar": "마네킹",
        "cancelled": "«{song}»을(를) 취소했어요. 언제든 다른 노래를 보내 주세요.",
        "nothing_to_cancel": "취소할 것이 없어요.",
        "failed": "😕 죄송해요, «{song}» 처리 중 문제가 생겼어요. 다시 시도해 주세요.",
        "history_empty": "아직 춤이 없어요. 노래를 보내 주세요!",
        "history": "내 춤:\n{items}",
        "history_group": "이 채팅의 춤:\n{items}",
        "alert_stale": "이 버튼은 더 이상 사용할 수 없어요.",
        "alert_owner_only": "{name}님만 고를 수 있어요.",
        "alert_unknown": "알 수 없는 버튼이에요. 노래를 보내서 시작하세요.",
        "alert_done_already": "이미 골랐어요 ✓",
        "alert_busy": "아직 작업 중이에요…",
        "again": "다른 노래를 보내 주세요 🎵",
        "error.not_audio": "이 파일에서 소리를 읽을 수 없어요. 오디오, 음성 메시지, 소리가 있는 동영상을 보내 주세요.",
        "error.no_audio_track": "이 동영상에는 소리가 없어요. 음악이 있는 동영상을 보내 주세요.",
        "error.empty": "빈 파일이에요.",
        "error.too_short": "노래가 너무 짧아요: 최소 8비트가 필요해요.",
        "error.too_long": "노래가 너무 길어요: 최대 {max_minutes:g}분이에요.",
        "error.silent": "소리가 없는 파일이에요. 음악이 있는 노래를 보내 주세요.",
        "error.no_beat": "이 노래에서 일정한 박자를 찾지 못했어요.",
        "error.empty_library": "지금은 춤 라이브러리가 비어 있어요. 잠시 후 다시 시도해 주세요.",
        "gave_up": "😕 {attempts}번 시도했지만 «{song}»을(를) 끝내지 못했어요. 나중에 다시 보내 주세요.",
        "too_many_songs": "이미 노래 {limit}곡을 작업 중이에요. 하나가 끝난 뒤에 (또는 /cancel 후에) 보내 주세요.",
        "too_many_songs_group": "이 채팅에서 이미 노래 {limit}곡을 작업 중이에요. 하나가 끝난 뒤에 보내 주세요.",
        "cancel_too_late": "취소하기엔 늦었어요: 춤을 보내고 있어요.",
        "delivering": "🎬 «{song}»에 맞춘 춤을 보내고 있어요…",
    },
}


def language_of(code: str | None) -> str:
    """The bot's language for a Telegram ``language_code`` (Korean for ko*, else English)."""
    return "ko" if code and code.lower().startswith("ko") else "en"


def t(lang: str, key: str, **values: object) -> str:
    table = TEXTS.get(lang, TEXTS["en"])
    template = table.get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template
