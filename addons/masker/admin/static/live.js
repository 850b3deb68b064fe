// Masker live firewall view. Plain JavaScript, no build step, no dependency.
// Text from traffic is only ever set with textContent: never parsed as HTML.
"use strict";

const TOKEN = /MSK(?:V1|1)\.[A-Z][A-Z_]{0,23}\.[A-Za-z0-9_]{1,32}\.[A-Z2-7]{16,}|\[REDACTED:[A-Z][A-Z_]{0,23}\]/g;
const JOURNAL_POLL_MS = 10000;

const state = {
  selected: null,       // session id
  source: null,         // EventSource
  viewSessions: [],     // from the live stream
  journalSessions: [],  // from GET /api/v1/sessions
  turns: new Map(),     // turn id -> turn doc
  agents: new Set(),
  kinds: new Set(),
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// -- sessions ---------------------------------------------------------------

function allSessions() {
  const byId = new Map();
  for (const s of state.journalSessions) {
    byId.set(s.session, { session: s.session, live: s.live, agents: new Set(agentsOf(s)), kinds: new Set(kindsOf(s)),
      turns: s.view ? s.view.turns : 0, events: s.journal ? s.journal.events : 0, last: lastOf(s) });
  }
  for (const v of state.viewSessions) {
    const entry = byId.get(v.session) || { session: v.session, agents: new Set(), kinds: new Set(), events: 0 };
    entry.live = v.live; entry.turns = v.turns; entry.last = v.last_ts > (entry.last || "") ? v.last_ts : entry.last;
    v.agents.forEach((a) => entry.agents.add(a));
    Object.keys(v.kinds).forEach((k) => entry.kinds.add(k));
    byId.set(v.session, entry);
  }
  return [...byId.values()].sort((a, b) => (b.last || "").localeCompare(a.last || ""));
}

function agentsOf(s) { return [...((s.view && s.view.agents) || []), ...((s.journal && s.journal.agents) || [])]; }
function kindsOf(s) { return Object.keys((s.view && s.view.kinds) || {}); }
function lastOf(s) {
  const a = (s.view && s.view.last_ts) || "", b = (s.journal && s.journal.last_ts) || "";
  return a > b ? a : b;
}

function renderSessions() {
  const agent = $("filter-agent").value, kind = $("filter-kind").value;
  const list = $("sessions");
  list.replaceChildren();
  for (const s of allSessions()) {
    s.agents.forEach((a) => a && state.agents.add(a));
    s.kinds.forEach((k) => state.kinds.add(k));
    if ((agent && !s.agents.has(agent)) || (kind && !s.kinds.has(kind))) continue;
    const li = el("li", (s.live ? "live" : "") + (s.session === state.selected ? " selected" : ""));
    li.dataset.session = s.session;
    const head = el("div", "sid");
    head.append(el("span", "dot"), document.createTextNode(s.session));
    li.append(head, el("div", "meta",
      `${[...s.agents].join(", ")} · ${s.turns || 0} turns here · ${s.events || 0} journal events${s.live ? " · live" : ""}`));
    li.addEventListener("click", () => select(s.session));
    list.append(li);
  }
  fillSelect($("filter-agent"), state.agents, "all agents");
  fillSelect($("filter-kind"), state.kinds, "all kinds");
}

function fillSelect(select, values, allLabel) {
  const current = select.value;
  const wanted = ["", ...[...values].sort()];
  if ([...select.options].map((o) => o.value).join("\n") === wanted.join("\n")) return;
  select.replaceChildren(...wanted.map((v) => { const o = el("option", null, v || allLabel); o.value = v; return o; }));
  select.value = current;
}

async function pollJournal() {
  try {
    const r = await fetch("/api/v1/sessions", { credentials: "same-origin", cache: "no-store" });
    if (r.status === 401) { location.assign("/login"); return; }
    const doc = await r.json();
    state.journalSessions = doc.sessions || [];
    $("journal-note").textContent = doc.journal && doc.journal.ok ? "" : `journal: ${(doc.journal && doc.journal.message) || "unavailable"}`;
    renderSessions();
    if (!state.selected && state.journalSessions.length && !location.hash) select(allSessions()[0].session);
  } catch (e) {
    $("journal-note").textContent = "sessions could not be loaded";
  }
}

// -- the live stream ----------------------------------------------------------

function select(session) {
  if (state.selected === session && state.source) return;
  state.selected = session;
  history.replaceState(null, "", "#session=" + encodeURIComponent(session));
  state.turns.clear();
  $("turns").replaceChildren();
  $("session-title").textContent = "Session " + session;
  connect();
  renderSessions();
  renderEmpty();
}

function connect() {
  if (state.source) state.source.close();
  const url = "/api/v1/live" + (state.selected ? "?session=" + encodeURIComponent(state.selected) : "");
  const source = new EventSource(url);
  state.source = source;
  const conn = $("conn");
  source.addEventListener("open", () => { conn.textContent = "live"; conn.className = "conn on"; });
  source.addEventListener("error", () => { conn.textContent = "reconnecting"; conn.className = "conn off"; });
  source.addEventListener("sessions", (e) => {
    state.viewSessions = JSON.parse(e.data);
    renderSessions();
    if (!state.selected && state.viewSessions.length) select(state.viewSessions[0].session);
  });
  source.addEventListener("turn", (e) => upsertTurn(JSON.parse(e.data)));
}

// -- turns --------------------------------------------------------------------

function upsertTurn(turn) {
  if (turn.session !== state.selected) return;
  state.turns.set(turn.id, turn);
  state.agents.add(turn.agent);
  turn.chips.forEach((c) => c.kind && state.kinds.add(c.kind));
  fillSelect($("filter-agent"), state.agents, "all agents");
  fillSelect($("filter-kind"), state.kinds, "all kinds");
  const node = renderTurn(turn);
  const old = document.querySelector(`li.turn[data-id="${turn.id}"]`);
  if (old) { old.replaceWith(node); } else { placeNew(node, turn.id); }
  applyFilters();
}

function placeNew(node, id) {
  const list = $("turns");
  const after = [...list.children].find((li) => Number(li.dataset.id) < id);  // newest first
  list.insertBefore(node, after || null);
}

function renderTurn(t) {
  const li = el("li", "turn");
  li.dataset.id = t.id;
  li.dataset.agent = t.agent;
  li.dataset.kinds = t.chips.map((c) => c.kind || "").join(" ");
  const head = el("div", "turn-head");
  const ok = !t.blocked && t.outcome === "forwarded";
  head.append(el("time", null, t.ts.replace("T", " ").replace(/\.\d+Z$/, "Z")), el("span", "agent", t.agent),
    el("span", "route", `${t.method} ${t.route}`),
    el("span", "status " + (t.done ? (ok ? "ok" : "bad") : ""), t.done ? `${t.status} ${t.outcome}` : "in flight"));
  li.append(head, renderChips(t.chips));
  if (t.request_note) li.append(el("p", "note", t.request_note));
  for (const f of t.request) li.append(renderPair(`${f.role || "text"} · ${f.path}`, f));
  if (t.response) li.append(renderPair("response" + (t.truncated ? " (first 64 KiB)" : ""), t.response));
  return li;
}

function renderChips(chips) {
  const box = el("div", "chips");
  for (const c of chips) {
    let text;
    if (c.type === "detection") {
      const conf = typeof c.confidence === "number" ? c.confidence.toFixed(2) : "-";
      text = `${c.kind} · ${c.pass} · ${conf}`;
    } else if (c.type === "rehydrated") {
      text = `${c.kind} rehydrated ×${c.count}`;
    } else if (c.type === "rehydration_failed") {
      text = `${c.kind} not rehydrated ×${c.count}`;
    } else {
      text = `blocked: ${c.code}`;
    }
    const chip = el("span", "chip " + c.type, text);
    if (c.kind) chip.dataset.kind = c.kind;
    if (c.path) chip.title = `${c.path} (${c.action || ""})`;
    box.append(chip);
  }
  return box;
}

function renderPair(label, sides) {
  const pair = el("div", "pair");
  const reg = el("div", "side regulated"), pub = el("div", "side public");
  reg.append(el("div", "label", label));
  pub.append(el("div", "label", label));
  const parts = splitTokens(sides.public);
  pub.append(marked(parts.map((p) => [p.tok ? "tok" : null, p.text])));
  if (sides.regulated === null || sides.regulated === undefined) {
    reg.append(el("p", "note", "values unavailable: no engine is running"));
  } else {
    const aligned = align(parts, sides.regulated);
    reg.append(marked(aligned || [[null, sides.regulated]]));
  }
  pair.append(reg, pub);
  return pair;
}

function marked(pieces) {
  const pre = el("pre");
  for (const [cls, text] of pieces) {
    pre.append(cls ? el("mark", cls, text) : document.createTextNode(text));
  }
  return pre;
}

// The public text as plain runs and runs of adjacent tokens (markers included).
function splitTokens(text) {
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last || !parts.length) parts.push({ text: text.slice(last, m.index) });
    const prev = parts[parts.length - 1];
    if (prev.tok && m.index === last) prev.text += m[0]; else parts.push({ tok: true, text: m[0] });
    last = m.index + m[0].length;
  }
  parts.push({ text: text.slice(last) });
  return parts;
}

// The regulated text cut where the public one has tokens: the runs between them are the same text.
function align(parts, regulated) {
  const out = [];
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (!p.tok) {
      if (!regulated.startsWith(p.text, pos)) return null;
      if (p.text) out.push([null, p.text]);
      pos += p.text.length;
      continue;
    }
    const next = parts[i + 1].text;
    const end = i + 1 === parts.length - 1 ? regulated.length - next.length : regulated.indexOf(next, pos);
    if (end < pos) return null;
    const value = regulated.slice(pos, end);
    out.push([value === p.text ? "tok" : "val", value]);
    pos = end;
  }
  return pos === regulated.length ? out : null;
}

function applyFilters() {
  const agent = $("filter-agent").value, kind = $("filter-kind").value;
  for (const li of $("turns").children) {
    const hide = (agent && li.dataset.agent !== agent) || (kind && !li.dataset.kinds.split(" ").includes(kind));
    li.classList.toggle("hidden", Boolean(hide));
  }
  renderEmpty();
}

function renderEmpty() {
  $("empty").classList.toggle("hidden", [...$("turns").children].some((li) => !li.classList.contains("hidden")));
}

function start() {
  for (const id of ["filter-agent", "filter-kind"]) {
    $(id).addEventListener("change", () => { renderSessions(); applyFilters(); });
  }
  const m = /^#session=(.+)$/.exec(location.hash);
  if (m) select(decodeURIComponent(m[1])); else connect();
  pollJournal();
  setInterval(pollJournal, JOURNAL_POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
