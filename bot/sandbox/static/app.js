/* Choreo sandbox: the chat page. Plain JavaScript, no build step, nothing from the network.
 *
 * The server (bot/sandbox/web/) pushes every change of the chats as Server-Sent Events
 * (/events): first a snapshot, then message / delete / callback_answer / chat_action events.
 * What a person does goes out as POSTs to /api/text, /api/upload, /api/song and /api/press,
 * each acting as one member of one chat (a pane). The bot answers through the Bot API
 * emulator; its answers come back as events.
 */
"use strict";

const API_HEADERS = { "X-Choreo-Sandbox": "1" };
const ACTIONS = {
  typing: "typing…", upload_video: "sending a video…", record_video: "recording a video…",
  upload_photo: "sending a photo…", upload_document: "sending a file…", upload_voice: "sending a voice message…",
  record_voice: "recording a voice message…", choose_sticker: "choosing a sticker…",
};
const NAME_COLORS = ["#e17076", "#3e9d4c", "#7f62ca", "#e0a23a", "#4ea0d8", "#d0609d"];
const COMMANDS = {
  private: [
    ["/start", "how Choreo works"], ["/help", "how Choreo works"],
    ["/cancel", "stop the current song"], ["/history", "your dances"],
  ],
  group: [
    ["/help", "how Choreo works in groups"], ["/mode vote", "everyone votes on each part"],
    ["/mode owner", "only the one who sent the song picks"], ["/choreo", "reply to a song to choreograph it"],
    ["/cancel", "stop your current song"], ["/history", "dances in this chat"],
  ],
};

const S = {
  info: null,          // /api/state: bot, users, chats, songs, max_upload_mb
  messages: new Map(), // chat id -> Map(message id -> message)
  panes: [],
  mode: location.hash === "#group" ? "group" : "private",
  activeMember: 0,
  source: null,
};

const $ = (sel, root = document) => root.querySelector(sel);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "style") node.setAttribute("style", v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

function userById(id) { return (S.info?.users || []).find((u) => u.id === id); }
function colorFor(id) { return NAME_COLORS[Math.abs(id || 0) % NAME_COLORS.length]; }
function fmtTime(unix) {
  if (!unix) return "";
  const d = new Date(unix * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
function fmtSize(bytes) {
  if (!bytes && bytes !== 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
function fmtDuration(sec) {
  if (!sec && sec !== 0) return "";
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ------------------------------------------------------------------------------ server calls

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST", headers: { ...API_HEADERS, "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok || data.ok === false) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

function uploadFile(pane, file, caption, replyTo) {
  const q = new URLSearchParams({ chat: pane.chatId, user: pane.userId, name: file.name || "file" });
  if (caption) q.set("caption", caption);
  if (replyTo) q.set("reply_to", replyTo);
  const notice = pane.addUploadNotice(file);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/upload?${q}`);
  xhr.setRequestHeader("X-Choreo-Sandbox", "1");
  xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) notice.progress(e.loaded / e.total); };
  xhr.onload = () => {
    notice.remove();
    let data = {};
    try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    if (xhr.status !== 200 || data.ok === false) pane.notice(data.error || `Upload failed (${xhr.status})`, true);
  };
  xhr.onerror = () => { notice.remove(); pane.notice("Upload failed: the sandbox did not answer.", true); };
  xhr.send(file);
}

// ------------------------------------------------------------------------------ text + entities

function entityNode(e, pane) {
  switch (e.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre");
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const s = el("span", { class: "spoiler", title: "Show" });
      s.addEventListener("click", () => s.classList.add("shown"));
      return s;
    }
    case "text_link": {
      const safe = /^(https?:|tg:|mailto:)/i.test(e.url || "") ? e.url : null;
      return el("a", { href: safe || "#", target: "_blank", rel: "noopener noreferrer" });
    }
    case "url": case "email": return el("a", { target: "_blank", rel: "noopener noreferrer" });
    case "bot_command": {
      const a = el("a", { class: "cmd", href: "#" });
      a.addEventListener("click", (ev) => { ev.preventDefault(); pane.sendText(a.textContent); });
      return a;
    }
    default: return el("span", { class: `ent-${e.type}` });
  }
}

function withCommands(text, entities) {
  const list = (entities || []).slice();
  const re = /(^|[\s(«"'])(\/[a-zA-Z][a-zA-Z0-9_]*)(?=$|[\s.,;:!?)»"'])/g;
  let m;
  while ((m = re.exec(text))) {
    const offset = m.index + m[1].length;
    const length = m[2].length;
    if (!list.some((e) => offset < e.offset + e.length && e.offset < offset + length && e.type !== "bold" && e.type !== "italic")) {
      list.push({ type: "bot_command", offset, length });
    }
  }
  return list;
}

function formatText(text, entities, pane) {
  const frag = document.createDocumentFragment();
  if (!text) return frag;
  const list = withCommands(text, entities).sort((a, b) => a.offset - b.offset || b.length - a.length);
  const build = (parent, start, end, ents) => {
    let pos = start;
    let i = 0;
    while (i < ents.length) {
      const e = ents[i];
      if (e.offset < pos) { i++; continue; }
      const eEnd = Math.min(e.offset + e.length, end);
      const inner = [];
      let j = i + 1;
      while (j < ents.length && ents[j].offset < eEnd) {
        if (ents[j].offset + ents[j].length <= eEnd) inner.push(ents[j]);
        j++;
      }
      if (e.offset > pos) parent.append(text.slice(pos, e.offset));
      const node = entityNode(e, pane);
      build(node, e.offset, eEnd, inner);
      if (e.type === "url" || e.type === "email") {
        const target = node.textContent;
        node.href = e.type === "email" ? `mailto:${target}` : (/^https?:/i.test(target) ? target : `http://${target}`);
      }
      parent.append(node);
      pos = eEnd;
      i = j;
    }
    if (end > pos) parent.append(text.slice(pos, end));
  };
  build(frag, 0, text.length, list);
  return frag;
}

function snippet(msg) {
  if (msg.text) return msg.text.split("\n")[0];
  const m = msg.media || {};
  const label = { audio: "🎵 ", voice: "🎤 Voice message", video: "🎬 Video", photo: "🖼 Photo", document: "📄 " }[msg.kind] || "";
  const name = m.file_name || m.title || "";
  return (msg.caption ? `${label.trim()} ${msg.caption.split("\n")[0]}` : `${label}${name}`).trim() || msg.kind;
}

// ------------------------------------------------------------------------------ a pane

class Pane {
  constructor(chatKey, userId, index) {
    const info = S.info;
    this.chatKey = chatKey;
    this.chat = info.chats[chatKey];
    this.chatId = this.chat.id;
    this.userId = userId;
    this.index = index;
    this.isGroup = chatKey === "group";
    this.replyTo = null;
    this.nodes = new Map(); // message id -> element
    this.actionTimer = null;

    this.root = $("#pane-template").content.firstElementChild.cloneNode(true);
    this.root.dataset.chat = chatKey;
    this.root.dataset.user = String(userId);
    this.log = $(".chat-log", this.root);
    this.scroller = $(".chat-scroll", this.root);
    this.input = $(".text-input", this.root);
    this.fileInput = $(".file-input", this.root);
    this.subtitle = $(".subtitle", this.root);
    this.pending = new Map(); // callback data -> button element
    // Videos play (muted) only while mostly on screen, as Telegram's autoplay does.
    this.observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const v = e.target;
        if (e.isIntersecting && e.intersectionRatio >= 0.6) { if (v.paused && v.muted) v.play().catch(() => {}); }
        else if (!v.paused && v.muted) v.pause();
      }
    }, { root: this.scroller, threshold: [0, 0.6, 1] });

    const avatar = $(".avatar", this.root);
    $(".title", this.root).textContent = this.chat.title;
    if (this.isGroup) {
      avatar.classList.add("group");
      avatar.textContent = this.chat.title.split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
      const me = userById(userId);
      const mini = el("div", { class: "avatar mini", style: `background:${colorFor(userId)}`, text: me.first_name[0] });
      const asUser = $(".as-user", this.root);
      asUser.append(mini, el("span", {}, "You are ", el("b", { text: me.first_name })));
      asUser.hidden = false;
      $(".caption-opt", this.root).hidden = false;
      this.input.placeholder = `Message as ${me.first_name}`;
    } else {
      avatar.textContent = "💃";
    }
    this.defaultSubtitle = this.isGroup
      ? `${this.chat.members.length + 1} members: ${this.chat.members.map((id) => userById(id).first_name).join(", ")}, ${info.bot.first_name} (bot)`
      : `bot · @${info.bot.username}`;
    this.subtitle.textContent = this.defaultSubtitle;
    this.wire();
  }

  wire() {
    const form = $(".composer", this.root);
    form.addEventListener("submit", (e) => { e.preventDefault(); this.submitText(); });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { this.setReply(null); this.closePopups(); }
    });
    this.input.addEventListener("input", () => {
      const v = this.input.value;
      if (v.startsWith("/") && !v.includes(" ")) this.openCommands(v); else $(".commands-popup", this.root).hidden = true;
    });
    $(".attach-btn", this.root).addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      const file = this.fileInput.files[0];
      this.fileInput.value = "";
      if (file) this.sendFile(file);
    });
    $(".menu-btn", this.root).addEventListener("click", () => this.toggle(".commands-popup", () => this.openCommands("")));
    $(".songs-btn", this.root).addEventListener("click", () => this.toggle(".songs-popup", () => this.openSongs()));
    $(".reply-cancel", this.root).addEventListener("click", () => this.setReply(null));
    $(".alert-box button", this.root).addEventListener("click", () => { $(".alert-box", this.root).hidden = true; });
    // drag and drop a file onto the chat
    let depth = 0;
    const hint = $(".drop-hint", this.root);
    this.root.addEventListener("dragenter", (e) => { if (e.dataTransfer?.types?.includes("Files")) { depth++; hint.hidden = false; e.preventDefault(); } });
    this.root.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) hint.hidden = true; });
    this.root.addEventListener("dragover", (e) => e.preventDefault());
    this.root.addEventListener("drop", (e) => {
      e.preventDefault(); depth = 0; hint.hidden = true;
      const file = e.dataTransfer?.files?.[0];
      if (file) this.sendFile(file);
    });
  }

  toggle(sel, open) {
    const popup = $(sel, this.root);
    const wasOpen = !popup.hidden;
    this.closePopups();
    if (!wasOpen) open();
  }
  closePopups() { for (const p of this.root.querySelectorAll(".popup")) p.hidden = true; }

  openCommands(prefix) {
    const popup = $(".commands-popup", this.root);
    popup.replaceChildren(el("h4", { text: "Commands" }));
    const cmds = COMMANDS[this.isGroup ? "group" : "private"].filter(([c]) => c.startsWith(prefix));
    if (!cmds.length) { popup.hidden = true; return; }
    for (const [cmd, what] of cmds) {
      popup.append(el("button", {
        type: "button", class: "popup-item",
        onclick: () => { this.closePopups(); this.input.value = ""; this.sendText(cmd); },
      }, el("div", {}, el("code", { text: cmd }), el("span", { text: what }))));
    }
    popup.hidden = false;
  }

  openSongs() {
    const popup = $(".songs-popup", this.root);
    popup.replaceChildren(el("h4", { text: "Bundled songs (synthesized here)" }));
    for (const song of S.info.songs) {
      popup.append(el("button", {
        type: "button", class: "popup-item", "data-song": song.key,
        onclick: () => { this.closePopups(); this.sendSong(song.key); },
      }, el("div", { class: "pi-icon", text: "🎵" }),
      el("div", {}, el("b", { text: song.title }), el("span", { text: `${song.style} · ${Math.round(song.tempo)} BPM · ${fmtDuration(song.seconds)}` }))));
    }
    popup.hidden = false;
  }

  // ---- sending

  takeReply() { const r = this.replyTo; this.setReply(null); return r; }

  submitText() {
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.closePopups();
    this.sendText(text);
  }

  async sendText(text) {
    try {
      await post("/api/text", { chat: this.chatId, user: this.userId, text, reply_to: this.takeReply() });
    } catch (err) { this.toast(err.message, true); }
  }

  caption() {
    const typed = this.input.value.trim();
    if (typed) { this.input.value = ""; return typed; }
    return this.isGroup && $(".caption-opt input", this.root).checked ? "/choreo" : null;
  }

  sendFile(file) {
    const max = S.info.max_upload_mb;
    if (file.size > max * 1024 * 1024) {
      this.notice(`«${file.name}» is ${(file.size / 1024 / 1024).toFixed(1)} MB. Telegram bots can receive files up to ${max} MB: send a smaller file.`, true);
      return;
    }
    if (file.size === 0) { this.notice(`«${file.name}» is empty.`, true); return; }
    uploadFile(this, file, this.caption(), this.takeReply());
  }

  async sendSong(key) {
    try {
      await post("/api/song", { chat: this.chatId, user: this.userId, song: key, caption: this.caption(), reply_to: this.takeReply() });
    } catch (err) { this.toast(err.message, true); }
  }

  async press(msg, button, node) {
    if (button.callback_data) {
      node.classList.add("loading");
      this.pending.set(button.callback_data, node);
      setTimeout(() => { node.classList.remove("loading"); this.pending.delete(button.callback_data); }, 15000);
      try {
        await post("/api/press", { chat: this.chatId, user: this.userId, message_id: msg.message_id, data: button.callback_data });
      } catch (err) {
        node.classList.remove("loading");
        this.pending.delete(button.callback_data);
        this.toast(err.message, true);
      }
    } else if (button.url) {
      window.open(button.url, "_blank", "noopener");
    } else if (button.switch_inline_query !== undefined || button.switch_inline_query_chosen_chat) {
      this.alert("📤 In Telegram, Share opens your chat list: pick a chat and the dance is posted there " +
        `(via @${S.info.bot.username}). The sandbox has no other chats to share to.`);
    } else {
      this.toast("This button works in Telegram only.");
    }
  }

  setReply(msg) {
    this.replyTo = msg ? msg.message_id : null;
    const bar = $(".reply-bar", this.root);
    bar.hidden = !msg;
    if (msg) {
      $(".reply-what b", bar).textContent = `Reply to ${msg.from.first_name}`;
      $(".reply-what span", bar).textContent = snippet(msg);
      this.input.focus();
    }
  }

  // ---- feedback

  toast(text, error = false) {
    const t = el("div", { class: `toast${error ? " error" : ""}`, text });
    $(".toasts", this.root).append(t);
    setTimeout(() => t.remove(), error ? 5000 : 2600);
  }

  alert(text) {
    const box = $(".alert-box", this.root);
    $("p", box).textContent = text;
    box.hidden = false;
    $("button", box).focus();
  }

  notice(text, warn = false) {
    const stick = this.nearBottom();
    this.log.append(el("div", { class: `service${warn ? " warn" : ""}`, text }));
    if (stick || warn) this.scrollToEnd();
  }

  addUploadNotice(file) {
    const stick = true;
    const bar = el("i");
    const label = el("span", { text: "Uploading… 0%" });
    const node = el("div", { class: "msg own upload-progress" },
      el("div", { class: "bubble" },
        el("div", { class: "doc-card" }, el("div", { class: "file-icon", text: "⬆" }),
          el("div", { class: "file-info" }, el("b", { text: file.name }), label)),
        el("div", { class: "bar" }, bar)));
    this.log.append(node);
    if (stick) this.scrollToEnd();
    return {
      progress: (f) => { bar.style.width = `${Math.round(f * 100)}%`; label.textContent = `Uploading… ${Math.round(f * 100)}% of ${fmtSize(file.size)}`; },
      remove: () => node.remove(),
    };
  }

  onAction(action) {
    this.subtitle.textContent = `${S.info.bot.first_name} is ${ACTIONS[action] || "busy…"}`;
    this.subtitle.classList.add("active");
    clearTimeout(this.actionTimer);
    this.actionTimer = setTimeout(() => this.clearAction(), 5000);
  }
  clearAction() {
    clearTimeout(this.actionTimer);
    this.subtitle.textContent = this.defaultSubtitle;
    this.subtitle.classList.remove("active");
  }

  onAnswer(ev) {
    const btn = this.pending.get(ev.data);
    if (btn) { btn.classList.remove("loading"); this.pending.delete(ev.data); }
    if (!ev.text) return;
    if (ev.show_alert) this.alert(ev.text); else this.toast(ev.text);
  }

  // ---- rendering

  nearBottom() { const s = this.scroller; return s.scrollHeight - s.scrollTop - s.clientHeight < 160; }
  scrollToEnd() { requestAnimationFrame(() => { this.scroller.scrollTop = this.scroller.scrollHeight; }); }

  reset(messages) {
    this.observer.disconnect();
    this.nodes.clear();
    this.log.replaceChildren();
    for (const msg of messages) this.upsert(msg, false);
    this.updateWelcome();
    this.scrollToEnd();
  }

  updateWelcome() {
    const empty = this.nodes.size === 0;
    let welcome = $(".welcome", this.log);
    if (!empty) { welcome?.remove(); return; }
    if (welcome) return;
    const chips = el("div", { class: "chips" }, S.info.songs.map((s) => el("button", {
      type: "button", class: "chip", "data-song": s.key, text: `🎵 ${s.title}`, onclick: () => this.sendSong(s.key),
    })));
    welcome = this.isGroup
      ? el("div", { class: "welcome" },
        el("div", { class: "big", text: "👥" }),
        el("h2", { text: `${this.chat.title}` }),
        el("p", {}, `${S.info.users.map((u) => u.first_name).join(" and ")} are here with ${S.info.bot.first_name}. `
          + "Send a song with /choreo in its caption (or reply /choreo to a song). Only the one who sent it picks; "
          + "after /mode vote everyone votes."),
        el("span", { class: "or", text: `Send a bundled song as ${userById(this.userId).first_name}:` }), chips)
      : el("div", { class: "welcome" },
        el("div", { class: "big", text: "💃" }),
        el("h2", { text: "Choreo makes a dance for any song" }),
        el("p", { text: "Send a song: it is cut into 8-beat parts, you pick a move for each from six, and you get a dance video and a choreography sheet." }),
        el("button", { type: "button", class: "start-btn", text: "START", onclick: () => this.sendText("/start") }),
        el("span", { class: "or", text: "or send one of the bundled songs" }), chips);
    this.log.prepend(welcome);
  }

  upsert(msg, live = true) {
    const old = this.nodes.get(msg.message_id);
    if (old && old._msg.version > msg.version) return; // an older state arriving late
    if (msg.deleted) { this.remove(msg.message_id); return; }
    const stick = live && (this.nearBottom() || (!old && msg.from.id === this.userId));
    if (old) {
      this.fill(old, msg);
    } else {
      const node = el("div", { class: "msg" });
      this.fill(node, msg);
      this.insert(node, msg.message_id);
      this.nodes.set(msg.message_id, node);
      this.updateWelcome();
      this.regroup(node);
      const next = node.nextElementSibling;
      if (next && next._msg) this.regroup(next);
    }
    if (stick) this.scrollToEnd();
  }

  insert(node, id) {
    for (const child of this.log.children) {
      if (child._msg && child._msg.message_id > id) { this.log.insertBefore(node, child); return; }
    }
    const uploads = this.log.querySelector(".upload-progress");
    if (uploads) this.log.insertBefore(node, uploads); else this.log.append(node);
  }

  regroup(node) {
    let prev = node.previousElementSibling;
    while (prev && !prev._msg && prev.classList.contains("welcome")) prev = null;
    const same = prev && prev._msg && prev._msg.from.id === node._msg.from.id;
    node.classList.toggle("cont", !!same);
    const sender = $(":scope > .bubble > .sender", node);
    if (sender) sender.hidden = !!same;
  }

  forget(node) {
    for (const v of node._media?.querySelectorAll?.("video") || []) { this.observer.unobserve(v); v.pause(); }
  }

  remove(id) {
    const node = this.nodes.get(id);
    if (!node) return;
    this.forget(node);
    this.nodes.delete(id);
    const next = node.nextElementSibling;
    node.remove();
    if (next && next._msg) this.regroup(next);
    this.updateWelcome();
  }

  fill(node, msg) {
    const prev = node._msg;
    node._msg = msg;
    const own = msg.from.id === this.userId;
    node.className = `msg${own ? " own" : ""}${msg.by_bot ? " bot" : ""}`;
    node.dataset.messageId = msg.message_id;
    node.dataset.kind = msg.kind;
    node.dataset.byBot = msg.by_bot ? "1" : "0";
    node.dataset.fileId = msg.file_id || "";

    // Keep the media element when the file is the same (an edit of the caption or buttons
    // must not restart a playing video).
    let media = null;
    if (prev && prev.file_id === msg.file_id && prev.kind === msg.kind) media = node._media;
    if (!media) {
      this.forget(node);
      media = this.mediaNode(msg);
    }
    node._media = media;

    const text = msg.text ?? msg.caption;
    const entities = msg.text != null ? msg.entities : msg.caption_entities;
    const isVisual = ["video", "photo", "animation", "video_note", "sticker"].includes(msg.kind);
    const bubble = el("div", {
      class: `bubble${media ? " has-media" : ""}${isVisual ? " video-bubble" : ""}${isVisual && !text ? " media-only" : ""}`,
    });
    if (this.isGroup && !own) {
      bubble.append(el("div", { class: "sender", style: `color:${msg.by_bot ? "#3390ec" : colorFor(msg.from.id)}`, text: msg.from.first_name }));
    }
    if (msg.reply_to) {
      const quote = el("div", { class: "reply-quote", title: "Show the message" },
        el("b", { text: msg.reply_to.from || "" }), el("span", { text: msg.reply_to.text || "" }));
      quote.addEventListener("click", () => this.flash(msg.reply_to.message_id));
      bubble.append(quote);
    }
    if (media) bubble.append(media);
    const meta = el("span", { class: "meta" },
      msg.edit_date ? el("span", { class: "edited", text: "edited" }) : null, fmtTime(msg.edit_date || msg.date));
    const textNode = el("div", { class: "text" });
    if (text) textNode.append(formatText(text, entities, this));
    textNode.append(meta);
    if (text || !isVisual) bubble.append(textNode); else bubble.append(meta);
    // a double click (or double tap) on a bubble replies to it, as in Telegram Desktop
    bubble.addEventListener("dblclick", (e) => { if (!e.target.closest("video, audio, a")) this.setReply(msg); });
    const parts = [bubble];
    const rows = msg.reply_markup?.inline_keyboard;
    if (rows && rows.length) parts.push(this.keyboard(msg, rows));
    if (!msg.by_bot || this.isGroup) {
      parts.push(el("button", { type: "button", class: "reply-btn", title: "Reply", "aria-label": "Reply", text: "↩",
        onclick: () => this.setReply(msg) }));
    }
    node.replaceChildren(...parts);
    this.regroup(node);
  }

  keyboard(msg, rows) {
    return el("div", { class: "kb" }, rows.map((row) => el("div", { class: "kb-row" }, row.map((b) => {
      const btn = el("button", { type: "button", class: "kb-btn", text: b.text, title: b.text });
      if (b.callback_data) btn.dataset.callback = b.callback_data;
      if (b.url) btn.append(el("span", { class: "corner", text: "↗" }));
      if (b.switch_inline_query !== undefined) btn.append(el("span", { class: "corner", text: "↪" }));
      if (b.callback_data && this.pending.has(b.callback_data)) {
        btn.classList.add("loading");
        this.pending.set(b.callback_data, btn);
      }
      btn.addEventListener("click", () => this.press(msg, b, btn));
      return btn;
    }))));
  }

  mediaNode(msg) {
    const m = msg.media || {};
    const src = msg.file_id ? `/file/${encodeURIComponent(msg.file_id)}` : null;
    if (!src) return null;
    const ratio = m.width && m.height ? `aspect-ratio:${m.width}/${m.height}` : "";
    switch (msg.kind) {
      case "video": case "animation": case "video_note": {
        // As in Telegram: plays muted in a loop while on screen; a tap plays it with sound.
        const v = el("video", { src, playsinline: true, preload: "metadata", muted: true, loop: true, style: ratio });
        v.playsInline = true;
        v.defaultMuted = true;
        const badge = el("span", { class: "vid-badge" }, el("span", { class: "vid-time", text: m.duration ? fmtDuration(m.duration) : "" }),
          msg.kind === "animation" ? null : el("span", { class: "vid-sound", text: "🔇" }));
        const play = el("button", { type: "button", class: "vid-play", title: "Play with sound", "aria-label": "Play with sound" });
        const box = el("div", { class: "media video-box" }, v, badge, play);
        const withSound = () => {
          if (msg.kind === "animation") return;
          box.classList.add("sound");
          v.muted = false; v.loop = false; v.controls = true;
          v.currentTime = 0;
          v.play().catch(() => {});
        };
        play.addEventListener("click", withSound);
        badge.addEventListener("click", withSound);
        v.addEventListener("click", () => { if (!box.classList.contains("sound")) withSound(); });
        v.addEventListener("play", () => box.classList.add("playing"));
        v.addEventListener("pause", () => box.classList.remove("playing"));
        v.addEventListener("timeupdate", () => {
          if (!box.classList.contains("sound") && v.duration) {
            $(".vid-time", badge).textContent = fmtDuration(Math.max(0, v.duration - v.currentTime));
          }
        });
        v.addEventListener("loadedmetadata", () => { if (this.nearBottom()) this.scrollToEnd(); });
        v.addEventListener("ended", () => { box.classList.remove("sound"); v.controls = false; v.muted = true; v.loop = true; });
        this.observer.observe(v);
        return box;
      }
      case "photo": case "sticker": {
        const img = el("img", { src, alt: msg.caption || "photo", style: ratio, loading: "lazy" });
        img.addEventListener("click", () => openLightbox(src));
        return el("div", { class: "media" }, img);
      }
      case "audio": case "voice": {
        const title = msg.kind === "voice" ? "Voice message" : (m.title || m.file_name || "Audio");
        const sub = [m.performer, m.duration ? fmtDuration(m.duration) : null, fmtSize(m.file_size)].filter(Boolean).join(" · ");
        return el("div", { class: "audio-wrap" },
          el("div", { class: "audio-card" }, el("div", { class: "file-icon", text: msg.kind === "voice" ? "🎤" : "🎵" }),
            el("div", { class: "file-info" }, el("b", { text: title }), el("span", { text: sub }))),
          el("audio", { class: "audio-player", src, controls: true, preload: "metadata" }));
      }
      case "document": {
        return el("a", { class: "doc-card", href: src, target: "_blank", rel: "noopener", style: "text-decoration:none;color:inherit" },
          el("div", { class: "file-icon", text: "📄" }),
          el("div", { class: "file-info" }, el("b", { text: m.file_name || "File" }), el("span", { text: fmtSize(m.file_size) })));
      }
      default: return null;
    }
  }

  flash(id) {
    const node = this.nodes.get(id);
    if (!node) return;
    node.scrollIntoView({ block: "center", behavior: "smooth" });
    node.animate([{ filter: "brightness(0.85)" }, { filter: "none" }], { duration: 900 });
  }
}

// ------------------------------------------------------------------------------ layout

function openLightbox(src) {
  const box = $(".lightbox");
  $("img", box).src = src;
  box.hidden = false;
}
$(".lightbox").addEventListener("click", () => { $(".lightbox").hidden = true; });
document.addEventListener("keydown", (e) => { if (e.key === "Escape") $(".lightbox").hidden = true; });

document.addEventListener("click", (e) => {
  if (!e.target.closest(".popup, .menu-btn, .songs-btn")) for (const p of S.panes) p.closePopups();
});

function buildPanes() {
  const host = $("#panes");
  host.dataset.mode = S.mode;
  host.replaceChildren();
  for (const p of S.panes) p.observer.disconnect();
  S.panes = [];
  const info = S.info;
  if (S.mode === "group") {
    info.chats.group.members.forEach((uid, i) => S.panes.push(new Pane("group", uid, i)));
  } else {
    S.panes.push(new Pane("private", info.chats.private.members[0], 0));
  }
  for (const p of S.panes) host.append(p.root);
  for (const p of S.panes) p.reset(sortedMessages(p.chatId));
  for (const b of document.querySelectorAll(".mode-switch button")) b.setAttribute("aria-selected", String(b.dataset.mode === S.mode));
  const ms = $(".member-switch");
  ms.hidden = S.mode !== "group";
  ms.replaceChildren(...S.panes.map((p, i) => el("button", {
    type: "button", role: "tab", "aria-selected": String(i === S.activeMember), text: `As ${userById(p.userId).first_name}`,
    onclick: () => { S.activeMember = i; showActive(); },
  })));
  showActive();
}

function showActive() {
  S.panes.forEach((p, i) => {
    const active = S.mode !== "group" || i === S.activeMember;
    const was = p.root.classList.contains("active");
    p.root.classList.toggle("active", active);
    if (active && !was) p.scrollToEnd(); // a hidden pane could not keep its place at the end
  });
  [...document.querySelectorAll(".member-switch button")].forEach((b, i) => b.setAttribute("aria-selected", String(i === S.activeMember)));
}

function sortedMessages(chatId) {
  const map = S.messages.get(chatId);
  return map ? [...map.values()].sort((a, b) => a.message_id - b.message_id) : [];
}

for (const b of document.querySelectorAll(".mode-switch button")) {
  b.addEventListener("click", () => {
    if (S.mode === b.dataset.mode) return;
    S.mode = b.dataset.mode;
    history.replaceState(null, "", S.mode === "group" ? "#group" : "#");
    if (S.info) buildPanes();
  });
}

// ------------------------------------------------------------------------------ events

function onEvent(ev) {
  switch (ev.type) {
    case "snapshot": {
      S.info = ev.state;
      S.messages = new Map();
      for (const [chatId, list] of Object.entries(ev.messages)) {
        S.messages.set(Number(chatId), new Map(list.map((m) => [m.message_id, m])));
      }
      buildPanes();
      document.body.dataset.ready = "1";
      break;
    }
    case "message": {
      const msg = ev.message;
      if (!S.messages.has(ev.chat_id)) S.messages.set(ev.chat_id, new Map());
      const map = S.messages.get(ev.chat_id);
      const old = map.get(msg.message_id);
      if (old && old.version > msg.version) return;
      if (msg.deleted) map.delete(msg.message_id); else map.set(msg.message_id, msg);
      for (const p of S.panes) {
        if (p.chatId !== ev.chat_id) continue;
        p.upsert(msg);
        if (msg.by_bot) p.clearAction();
      }
      break;
    }
    case "delete": {
      S.messages.get(ev.chat_id)?.delete(ev.message_id);
      for (const p of S.panes) if (p.chatId === ev.chat_id) p.remove(ev.message_id);
      break;
    }
    case "callback_answer": {
      for (const p of S.panes) if (p.chatId === ev.chat_id && p.userId === ev.user_id) p.onAnswer(ev);
      break;
    }
    case "chat_action": {
      for (const p of S.panes) if (p.chatId === ev.chat_id) p.onAction(ev.action);
      break;
    }
    case "member": {
      for (const p of S.panes) if (p.chatId === ev.chat_id) p.notice(`${S.info.bot.first_name} ${ev.status === "kicked" ? "was removed" : "left"}`);
      break;
    }
    default: break;
  }
}

function connect() {
  const banner = $(".conn-banner");
  const source = new EventSource("/events");
  S.source = source;
  source.onopen = () => { banner.hidden = true; };
  source.onmessage = (e) => {
    try { onEvent(JSON.parse(e.data)); } catch (err) { console.error("bad event", err, e.data); }
  };
  source.onerror = () => { banner.hidden = false; };
}

connect();
