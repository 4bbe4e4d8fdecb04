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
        "error.no_beat": "I couldn't find a beat in this song, so there is nothing to dance to. Send a song with a rhythm.",
        "error.empty_library": "My dance library is empty right now. Please try again later.",
        # practice video and pose export (issue 15)
        "btn_practice": "🪞 Practice",
        "btn_export": "⬇️ Export",
        "btn_practice_loop": "🔁 Loop a part",
        "btn_speed": "{speed}×",
        "practice_menu": ("🪞 A practice video of «{song}»: mirrored like a studio mirror, with the 8-count on screen "
                          "and the music's pitch kept. Choose a speed for the whole dance, or loop one part."),
        "practice_parts": "🔁 Which part should I loop? (four times in a row)",
        "practice_part_speed": "🔁 Part {part}: choose a speed.",
        "practice_queued": "🪞 On it: the practice video is coming.",
        "practice_rendering": "🪞 Practice video, {what}, {speed}×: {percent}%…",
        "practice_whole": "whole dance",
        "practice_loop": "part {part} ×4",
        "practice_done": "🪞 Practice: «{song}», {what}, {speed}× speed, mirrored. Count along: the 1 is on the downbeat.",
        "practice_overlay_part": "Part {part}/{total}",
        "practice_failed": "Sorry, I couldn't make the practice video. Please try again later.",
        "export_queued": "⬇️ Exporting the poses…",
        "export_bvh": ("⬇️ «{song}» as a BVH skeleton (Blender: File → Import → Motion Capture). "
                       "Body height 1.70 m, 25 frames a second."),
        "export_json": "⬇️ Keypoints: 33 landmarks per frame in metres, with time, beat and count (JSON).",
        "export_failed": "Sorry, I couldn't export the poses. Please try again later.",
        "disk_full": "💾 I ran out of storage space while working on «{song}». I'll go on by myself as soon as "
                     "there is room again.",
        "disk_full_new": "💾 I'm out of storage space right now and can't take a new song. Please send it again "
                         "in a few minutes.",
        "media_gone": "This dance's video is no longer stored. Send the song again to make a new one.",
        "btn_auto_dance": "⚡ Auto dance now",
        "btn_change": "✏️ Change a part",
        "version_note": "\nVersion {number}.",
        "version_note_changed": "\nVersion {number}: part {part} changed.",
        "change_which": "✏️ «{song}»: which part do you want to change? (page {page} of {pages})",
        "change_offer": "Change part {part} of {total} ({start}–{end}{section}) · «{song}»\nPick a move (✓ is the one danced now):",
        "change_nothing": "Nothing else fits part {part}.",
        "change_picked": "Part {part}: move {rank} ✓ Making the new version…",
        "alert_preparing": "Preparing the moves…",
        "history_version": "v{number} {mode}",
        "history_version_changed": " (part {part} changed)",
        "resent": "💃 «{song}», {version}",
        "version_gone": "This version is no longer stored.",
        "mode_set_auto": "⚡ Songs in this chat now get the auto-picked dance at once; change any part afterwards with ✏️.",
        "mode_set_choose": "Songs in this chat now offer six moves per part to choose from.",
        "mode_usage_all": "Use /mode vote or /mode owner (who picks), /mode auto or /mode choose (the dance at once, or part by part).",
        "offer_section": "<b>{section}</b> · ",
        "section.intro": "Intro",
        "section.verse": "Verse",
        "section.chorus": "Chorus",
        "section.bridge": "Bridge",
        "section.outro": "Outro",
        "error.unsupported_format": "I can't open this kind of file. Send a song (mp3, m4a, ogg, flac, wav) or a video with sound.",
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
        "error.no_beat": "이 노래에서 박자를 찾지 못해서 춤을 만들 수 없어요. 리듬이 있는 노래를 보내 주세요.",
        "error.empty_library": "지금은 춤 라이브러리가 비어 있어요. 잠시 후 다시 시도해 주세요.",
        # practice video and pose export (issue 15)
        "btn_practice": "🪞 연습",
        "btn_export": "⬇️ 내보내기",
        "btn_practice_loop": "🔁 파트 반복",
        "btn_speed": "{speed}×",
        "practice_menu": ("🪞 «{song}» 연습 영상: 연습실 거울처럼 좌우가 바뀌고, 8카운트가 화면에 나오며 음악의 음높이는 "
                          "그대로예요. 전체 춤의 속도를 고르거나 한 파트를 반복해 보세요."),
        "practice_parts": "🔁 어느 파트를 반복할까요? (네 번 연속)",
        "practice_part_speed": "🔁 파트 {part}: 속도를 골라 주세요.",
        "practice_queued": "🪞 연습 영상을 만들고 있어요.",
        "practice_rendering": "🪞 연습 영상, {what}, {speed}×: {percent}%…",
        "practice_whole": "전체 춤",
        "practice_loop": "파트 {part} ×4",
        "practice_done": "🪞 연습: «{song}», {what}, {speed}× 속도, 거울 모드. 1은 강박에 맞춰 세어 보세요.",
        "practice_overlay_part": "#{part}/{total}",
        "practice_failed": "죄송해요, 연습 영상을 만들지 못했어요. 잠시 후 다시 시도해 주세요.",
        "export_queued": "⬇️ 동작을 내보내는 중이에요…",
        "export_bvh": ("⬇️ «{song}»의 BVH 스켈레톤이에요 (Blender: File → Import → Motion Capture). "
                       "키 1.70 m, 초당 25프레임."),
        "export_json": "⬇️ 키포인트: 프레임마다 33개 관절(미터 단위)과 시간, 박자, 카운트 (JSON).",
        "export_failed": "죄송해요, 동작을 내보내지 못했어요. 잠시 후 다시 시도해 주세요.",
        "disk_full": "💾 «{song}» 작업 중에 저장 공간이 부족해졌어요. 공간이 생기면 자동으로 이어서 할게요.",
        "disk_full_new": "💾 지금은 저장 공간이 부족해서 새 노래를 받을 수 없어요. 몇 분 후에 다시 보내 주세요.",
        "media_gone": "이 춤 영상은 더 이상 저장되어 있지 않아요. 노래를 다시 보내서 새로 만들어 주세요.",
        "btn_auto_dance": "⚡ 바로 자동 춤",
        "btn_change": "✏️ 파트 바꾸기",
        "version_note": "\n버전 {number}.",
        "version_note_changed": "\n버전 {number}: 파트 {part} 변경.",
        "change_which": "✏️ «{song}»: 어느 파트를 바꿀까요? ({page}/{pages} 페이지)",
        "change_offer": "파트 {part}/{total} 바꾸기 ({start}–{end}{section}) · «{song}»\n동작을 고르세요 (✓ 지금 춤):",
        "change_nothing": "파트 {part}에 맞는 다른 동작이 없어요.",
        "change_picked": "파트 {part}: 동작 {rank} ✓ 새 버전을 만들고 있어요…",
        "alert_preparing": "동작을 준비하고 있어요…",
        "history_version": "v{number} {mode}",
        "history_version_changed": " (파트 {part} 변경)",
        "resent": "💃 «{song}», {version}",
        "version_gone": "이 버전은 더 이상 저장되어 있지 않아요.",
        "mode_set_auto": "⚡ 이 채팅의 노래는 이제 자동으로 고른 춤을 바로 받아요. 나중에 ✏️로 파트를 바꿀 수 있어요.",
        "mode_set_choose": "이 채팅의 노래는 이제 파트마다 동작 6개 중에서 골라요.",
        "mode_usage_all": "/mode vote 또는 /mode owner (누가 고르는지), /mode auto 또는 /mode choose (춤을 바로, 또는 파트별로)를 사용하세요.",
        "offer_section": "<b>{section}</b> · ",
        "section.intro": "인트로",
        "section.verse": "벌스",
        "section.chorus": "코러스",
        "section.bridge": "브리지",
        "section.outro": "아웃트로",
        "error.unsupported_format": "이런 종류의 파일은 열 수 없어요. 노래(mp3, m4a, ogg, flac, wav)나 소리가 있는 동영상을 보내 주세요.",
        "gave_up": "😕 {attempts}번 시도했지만 «{song}»을(를) 끝내지 못했어요. 나중에 다시 보내 주세요.",
        "too_many_songs": "이미 노래 {limit}곡을 작업 중이에요. 하나가 끝난 뒤에 (또는 /cancel 후에) 보내 주세요.",
        "too_many_songs_group": "이 채팅에서 이미 노래 {limit}곡을 작업 중이에요. 하나가 끝난 뒤에 보내 주세요.",
        "cancel_too_late": "취소하기엔 늦었어요: 춤을 보내고 있어요.",
        "delivering": "🎬 «{song}»에 맞춘 춤을 보내고 있어요…",
    },
}


# Admins teaching the bot new dances: /learn, /library, /forget (bot.handlers.admin).
TEXTS["en"].update({
    "admin_only": "Only the bot's admins can do this.",
    "learn_usage": "Send a dance video with /learn [style] in its caption, reply /learn [style] to one, "
                   "or send /learn [style] LINK.",
    "learn_started": "📥 Learning «{name}»…",
    "learn_progress": "📥 Learning «{name}»… {percent}%",
    "learn_done": ("✅ Learned «{name}»: {segments} segments in {clips} clips ({kept}% of the video was dancing, "
                   "{posed}% with a pose){style}. They are offered from the next song on."),
    "learn_style": ", style {style}",
    "learn_style_guess": ", style {style} (a guess)",
    "learn_duplicate": "«{name}» is already in the library.",
    "learn_refused": "😕 I couldn't learn «{name}»: {reason}",
    "library_counts": "📚 The library: {clips} clips, {segments} segments.\n{styles}",
    "forget_usage": "Use /forget CLIP (its number or name; /library lists the styles, `choreo library stats` the clips).",
    "forget_done": "🗑 «{name}» is no longer offered.",
    "forget_unknown": "There is no clip «{clip}» in the library.",
})
TEXTS["ko"].update({
    "admin_only": "봇 관리자만 할 수 있어요.",
    "learn_usage": "캡션에 /learn [스타일]을 넣어 춤 영상을 보내거나, 영상에 /learn [스타일]로 답장하거나, "
                   "/learn [스타일] 링크를 보내 주세요.",
    "learn_started": "📥 «{name}» 배우는 중…",
    "learn_progress": "📥 «{name}» 배우는 중… {percent}%",
    "learn_done": ("✅ «{name}» 배웠어요: 클립 {clips}개, 세그먼트 {segments}개 (영상의 {kept}%가 춤, "
                   "{posed}%에서 포즈 인식){style}. 다음 노래부터 제안돼요."),
    "learn_style": ", 스타일 {style}",
    "learn_style_guess": ", 스타일 {style} (추정)",
    "learn_duplicate": "«{name}»은(는) 이미 라이브러리에 있어요.",
    "learn_refused": "😕 «{name}»을(를) 배우지 못했어요: {reason}",
    "library_counts": "📚 라이브러리: 클립 {clips}개, 세그먼트 {segments}개.\n{styles}",
    "forget_usage": "/forget 클립 (번호나 이름)으로 사용하세요.",
    "forget_done": "🗑 «{name}»은(는) 더 이상 제안되지 않아요.",
    "forget_unknown": "라이브러리에 «{clip}» 클립이 없어요.",
})


def language_of(code: str | None) -> str:
    """The bot's language for a Telegram ``language_code`` (Korean for ko*, else English)."""
    return "ko" if code and code.lower().startswith("ko") else "en"


def t(lang: str, key: str, **values: object) -> str:
    table = TEXTS.get(lang, TEXTS["en"])
    template = table.get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template
