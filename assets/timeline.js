// Synchronised timeline (st.components.v2), in the manner of sed_vis / DIVE: the <video> beside the lanes,
// one lane per (modality, class) with ground truth and prediction as two rows, or one row coloured
// TP / FP / FN, or GT and predicted events each marked with its error kind (sound event detection words:
// boundary, split, merged, wrong modality, substitution, missed, inserted; data from mmcse.error_analysis),
// and the probability curve under the bars; a playhead that follows playback; a click on a
// lane seeks; zoom; keys j / k (next / previous clip, sent to Python), space (play / pause), left / right
// (one segment). Several sections (checkpoints) can share one video (Compare).
// All clip data arrives in `data` and is written with textContent / style / SVG attributes only, never as
// HTML. Reports back to Python (state values): the time on pause with its clip ("time": {time, clip}), the
// view ("view": {mode, zoom, media}, for the URL) and the j / k presses as a running total ("steps": {id, net,
// count}): a total, not a trigger, so that presses made while a rerun is under way are never lost (Python
// applies the difference to what it has seen). Scrolls the clip table's open row into view and marks it
// (data.table_row); says when the user sorts that grid by a column header ("table_sorted": {key, n}).
const ZOOMS = [1, 2, 4, 8];
const MODES = { rows: "GT / prediction rows", errors: "TP / FP / FN", kinds: "Error kinds" };
const NEEDS_GT = new Set(["errors", "kinds"]);
const SVG = "http://www.w3.org/2000/svg";
const INTERACTIVE = 'button, [role="slider"], [role="combobox"], [role="listbox"], [role="option"], [role="radio"], ' +
  '[role="checkbox"], [role="tab"], [role="switch"], [data-baseweb="select"]';

function el(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

function svgEl(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function sectionsOf(data) {
  if (data && Array.isArray(data.sections) && data.sections.length) return data.sections;
  const timeline = (data && data.timeline) || { lanes: [], duration: 10, segment_seconds: 1, colors: {} };
  return [{ title: "", timeline }];
}

function place(node, a, b, duration) {
  node.style.left = `${(a / duration) * 100}%`;
  node.style.width = `${((b - a) / duration) * 100}%`;
}

// ---- the error kinds: each GT event (upper strip) and predicted event (lower strip) of a lane as a bar in
// its kind's colour and pattern, with a short label ("onset +1 s", "subst.: GT Cat") and a tooltip; the
// kind and its details are data attributes of the bar
function kindColors(timeline) {
  return Object.fromEntries((timeline.kind_legend || []).map((item) => [item.kind, item.color]));
}

function kindBar(parent, kind, color) {
  const bar = el("div", `kev kind-${kind}`, parent);
  bar.style.setProperty("--kind-color", color || "#888");
  return bar;
}

function drawKinds(track, lane, timeline, duration) {
  const colors = kindColors(timeline);
  for (const event of lane.kinds) {
    const bar = kindBar(track, event.kind, colors[event.kind]);
    bar.classList.add(event.side);
    place(bar, event.onset, event.offset, duration);
    const data = { side: event.side, kind: event.kind, modality: lane.modality, label: lane.label, onset: event.onset,
                   offset: event.offset, onsetError: event.onset_error, offsetError: event.offset_error,
                   otherClass: event.other_class, pieces: event.pieces };
    for (const [name, value] of Object.entries(data)) if (value != null) bar.dataset[name] = String(value);
    if (event.kind === "boundary") {  // the edge that is off, in bold
      bar.classList.toggle("onset-off", !!event.onset_error);
      bar.classList.toggle("offset-off", !!event.offset_error);
    }
    bar.title = event.title;
    if (event.text) el("span", "ktext", bar).textContent = event.text;
  }
}

function kindLegend(parent, legend) {
  const box = el("div", "kind-legend", parent);
  for (const item of legend) {
    const entry = el("span", "kind-key", box);
    entry.dataset.kind = item.kind;
    entry.title = `${item.name}: ${item.text}`;
    const swatch = kindBar(entry, item.kind, item.color);
    swatch.classList.add("swatch");
    if (item.kind === "boundary") swatch.classList.add("onset-off");
    el("span", null, entry).textContent = item.name;
  }
}

// ---- one lane: bars (two rows, TP / FP / FN cells, or events by error kind) and the probability curve under them
function drawLane(track, lane, timeline, mode, duration) {
  const colors = timeline.colors || {};
  const color = colors[lane.modality] || "#888";
  const seg = timeline.segment_seconds || 1;
  track.style.setProperty("--lane-color", color);
  if (mode === "kinds" && lane.kinds) {
    drawKinds(track, lane, timeline, duration);
  } else if (mode === "errors" && lane.states) {
    lane.states.forEach((state, t) => {
      if (!state) return;
      const cell = el("div", `cell ${state}`, track);
      place(cell, t * seg, (t + 1) * seg, duration);
      if (state === "fp") cell.style.setProperty("--fp-color", colors.fp || "#f08c00");
      cell.title = `${lane.label} (${lane.modality}) ${t * seg}-${(t + 1) * seg} s: ${state.toUpperCase()}, p=${lane.prob[t].toFixed(2)}`;
    });
  } else {
    for (const [a, b] of lane.gt || []) place(el("div", "gt", track), a, b, duration);
    for (const [a, b] of lane.pred) place(el("div", "pred", track), a, b, duration);
  }
  const n = lane.prob.length;
  const svg = svgEl("svg", { class: "curve", viewBox: `0 0 ${n} 1`, preserveAspectRatio: "none" }, track);
  svg.style.width = `${((n * seg) / duration) * 100}%`;
  let d = `M0,1`;
  lane.prob.forEach((p, t) => { d += ` L${t},${1 - p} L${t + 1},${1 - p}`; });
  svgEl("path", { d: `${d} L${n},1 Z`, fill: color, "fill-opacity": 0.22, stroke: color, "stroke-width": 1,
                   "vector-effect": "non-scaling-stroke" }, svg);
  if (timeline.threshold != null) {
    svgEl("line", { x1: 0, x2: n, y1: 1 - timeline.threshold, y2: 1 - timeline.threshold, class: "threshold",
                     "vector-effect": "non-scaling-stroke" }, svg);
  }
  const tip = el("div", "tip", track);
  tip.title = lane.prob.map((p, t) => `${t * seg}-${(t + 1) * seg} s: p=${p.toFixed(2)}`).join("\n");
}

function drawLanes(state, sections, mode, duration, media) {
  state.labels.textContent = "";
  state.inner.textContent = "";
  state.tracks = [];
  let any = false;
  for (const section of sections) {
    const timeline = section.timeline;
    if (section.title) {
      el("div", "row section", state.labels).textContent = section.title;
      el("div", "row section", state.inner);
    }
    const groups = {};
    for (const lane of timeline.lanes) {
      if (mode === "kinds" && !lane.kinds) continue;  // the audio-visual lanes: no event-level kinds
      (groups[lane.modality] = groups[lane.modality] || []).push(lane);
    }
    for (const [modality, lanes] of Object.entries(groups)) {
      el("div", "row group", state.labels).textContent = modality;
      el("div", "row group", state.inner);
      for (const lane of lanes) {
        any = true;
        const label = el("div", "row lane-label", state.labels);
        label.textContent = lane.label;
        label.title = `${lane.label} (${modality})`;
        const track = el("div", "row track", state.inner);
        track.dataset.modality = modality;
        track.dataset.label = lane.label;
        drawLane(track, lane, timeline, mode, duration);
        state.tracks.push(track);
      }
    }
  }
  if (!any) el("div", "row empty", state.labels).textContent = "No class predicted or annotated in this clip.";
  if (media) drawMedia(state, media, duration);
  const axis = el("div", "axis", state.inner);
  const step = duration <= 12 ? 1 : duration <= 60 ? 5 : 10;
  for (let t = 0; t <= duration + 1e-6; t += step) {
    const tick = el("span", "tick", axis);
    tick.style.left = `${(t / duration) * 100}%`;
    tick.textContent = `${t}s`;
  }
  state.playhead = el("div", "playhead", state.inner);
}

// ---- what the model heard and saw: frame thumbnails, log-mel spectrogram, waveform (data.media), on the
// same time axis as the event lanes; the part of the axis the file does not cover is hatched
function mediaLane(state, kind, label, title) {
  const name = el("div", `row lane-label media-label ${kind}`, state.labels);
  name.textContent = label;
  name.title = title;
  const lane = el("div", `row media-lane ${kind}`, state.inner);
  lane.dataset.kind = kind;
  return lane;
}

function missing(lane, from, duration, text) {
  if (from >= duration - 1e-3) return;
  const gap = el("div", "media-missing", lane);
  place(gap, from, duration, duration);
  gap.title = text;
}

function drawMedia(state, media, duration) {
  el("div", "row group media-group", state.labels).textContent = "audio & frames";
  el("div", "row group media-group", state.inner);
  const frames = mediaLane(state, "frames", "frames", "one frame per second (the middle of each second)");
  const step = media.frame_step || 1;
  for (const frame of media.frames || []) {
    const img = el("img", "thumb", frames);
    img.src = frame.src;
    img.alt = "";
    img.draggable = false;
    place(img, frame.t, Math.min(frame.t + step, media.video_seconds || duration), duration);
    img.title = `frame at ${(frame.t + step / 2).toFixed(1)} s`;
  }
  missing(frames, media.video_seconds || 0, duration, `no frames after ${(media.video_seconds || 0).toFixed(1)} s`);
  const spec = mediaLane(state, "spectrogram", "log-mel", "log-mel spectrogram (64 mel bands 125-7500 Hz, " +
    `${media.db_range} dB range; low frequencies at the bottom), as the audio backbone reads it`);
  const wave = mediaLane(state, "waveform", "waveform", `waveform (min / max; peak ${media.peak})`);
  if (!media.has_audio) {
    el("div", "media-note", spec).textContent = "no audio track";
    missing(wave, 0, duration, "no audio track");
    return;
  }
  const img = el("img", "spectrogram-image", spec);
  img.src = media.spectrogram;
  img.alt = "log-mel spectrogram";
  img.draggable = false;
  place(img, 0, Math.min(media.audio_seconds, duration), duration);
  missing(spec, media.audio_seconds, duration, `no audio after ${media.audio_seconds.toFixed(1)} s`);
  const n = media.envelope.length;
  if (n) {
    const svg = svgEl("svg", { class: "wave", viewBox: `0 -100 ${n} 200`, preserveAspectRatio: "none" }, wave);
    place(svg, 0, Math.min(media.audio_seconds, duration), duration);
    // one filled outline: along the maxima, back along the minima (at least a hairline where silent)
    let d = "";
    media.envelope.forEach(([, hi], i) => { d += `${i ? "L" : "M"}${i + 0.5},${-Math.max(hi, 1)} `; });
    for (let i = n - 1; i >= 0; i -= 1) d += `L${i + 0.5},${-Math.min(media.envelope[i][0], -1)} `;
    svgEl("path", { d: `${d}Z`, class: "wave-path" }, svg);
  }
  missing(wave, media.audio_seconds, duration, `no audio after ${media.audio_seconds.toFixed(1)} s`);
}

function legendText(mode, hasGt, nav) {
  const keys = `keys: ${nav ? "j / k next / previous clip, " : ""}space play / pause, left / right one segment`;
  if (mode === "kinds" && hasGt) {
    return `upper strip: GT events, lower strip: predicted events, each in the colour and pattern of its error kind ` +
      `(event-based, per modality: the audio-visual lanes are in the other views); bold edge: the boundary that is ` +
      `off; hover an event for its kind in full; curve: segment probability (dashed: threshold); click a lane to ` +
      `seek; ${keys}`;
  }
  if (mode === "errors" && hasGt) {
    return `solid: true positive; orange stripes: false positive; dashed outline: false negative (missed); ` +
      `curve: segment probability (dashed: threshold); click a lane to seek; ${keys}`;
  }
  return `${hasGt ? "upper strip: ground truth; " : ""}bar: prediction; curve: segment probability ` +
    `(dashed: threshold); click a lane to seek; ${keys}`;
}

// ---- the frame: toolbar, media column, labels + scrolling tracks
function buildFrame(root, state, data) {
  root.textContent = "";
  const toolbar = el("div", "toolbar", root);
  state.modeButtons = {};
  for (const [mode, text] of Object.entries(MODES)) {
    const button = el("button", "mode", toolbar);
    button.type = "button";
    button.textContent = text;
    button.dataset.mode = mode;
    state.modeButtons[mode] = button;
  }
  state.mediaButton = null;
  if (data.media) {
    const button = el("button", "media-toggle", toolbar);
    button.type = "button";
    button.textContent = "Audio & frames";
    button.title = "show / hide the frames, the log-mel spectrogram and the waveform under the lanes";
    state.mediaButton = button;
  }
  el("span", "spacer", toolbar);
  const zoomOut = el("button", "zoom-out", toolbar);
  zoomOut.type = "button";
  zoomOut.textContent = "−";
  zoomOut.title = "zoom out";
  state.zoomLabel = el("span", "zoom-label", toolbar);
  const zoomIn = el("button", "zoom-in", toolbar);
  zoomIn.type = "button";
  zoomIn.textContent = "+";
  zoomIn.title = "zoom in";
  state.zoomButtons = { zoomOut, zoomIn };
  const body = el("div", "body", root);
  const media = el("div", "media", body);
  state.video = null;
  if (data.video) {
    const video = el("video", "clip", media);
    video.controls = true;
    video.preload = "auto";
    video.src = data.video;
    state.video = video;
  } else {
    el("div", "no-video", media).textContent = data.video_note || "No video for this clip.";
  }
  state.now = el("div", "now", media);
  const main = el("div", "main", body);
  const grid = el("div", "grid", main);
  state.labels = el("div", "labels", grid);
  state.scroll = el("div", "scroll", grid);
  state.inner = el("div", "inner", state.scroll);
  state.legend = el("div", "legend", main);
}

// ---- one mounted view: `v` holds the root, its state, the sections and the callbacks to Python

function render(v) {
  const { root, state } = v;
  const shown = NEEDS_GT.has(state.mode) && !v.hasGt ? "rows" : state.mode;  // a clip without GT: the rows
  root.dataset.mode = shown;
  for (const [mode, button] of Object.entries(state.modeButtons)) {
    button.classList.toggle("active", mode === shown);
    button.disabled = NEEDS_GT.has(mode) && !v.hasGt;
  }
  state.inner.style.width = `${state.zoom * 100}%`;
  state.zoomLabel.textContent = `${state.zoom}×`;
  if (state.mediaButton) state.mediaButton.classList.toggle("active", state.media);
  drawLanes(state, v.sections, shown, v.duration, state.media ? v.data.media : null);
  state.legend.textContent = "";
  if (shown === "kinds" && v.first.kind_legend) kindLegend(state.legend, v.first.kind_legend);
  const legend = el("span", "legend-text", state.legend);
  legend.textContent = legendText(shown, v.hasGt, !!v.data.nav);
  if (state.media && v.data.media) {
    legend.textContent += "; audio & frames: the frame of the middle of each second, the log-mel spectrogram " +
      "(low frequencies at the bottom, bright = loud), the waveform; hatched: not in the file";
  }
  move(v, state.time || 0, false);
  // what a test or a timing script waits for: this clip, these thresholds, drawn
  root.dataset.threshold = v.first.threshold == null ? "" : String(v.first.threshold);
  root.dataset.renders = String(Number(root.dataset.renders || 0) + 1);
}

// the playhead, the view scrolled to it when zoomed, and the predicted events under it
function move(v, t, follow = true) {
  const { state, duration } = v;
  state.time = t;
  const frac = Math.max(0, Math.min(1, t / duration));
  state.playhead.style.left = `${frac * 100}%`;
  state.playhead.dataset.time = t.toFixed(3);
  if (follow && state.zoom > 1) {
    const x = frac * state.inner.clientWidth;
    const view = state.scroll;
    if (x < view.scrollLeft || x > view.scrollLeft + view.clientWidth - 20) view.scrollLeft = Math.max(0, x - view.clientWidth / 3);
  }
  const active = [];
  const titled = v.sections.length > 1;
  v.sections.forEach((section, i) => {
    const names = [];
    for (const lane of section.timeline.lanes) {
      if (lane.pred.some(([a, b]) => t >= a && t < b)) names.push(`${lane.label} (${lane.modality})`);
    }
    if (!titled) active.push(...names);
    else active.push(`${section.title || `#${i + 1}`}: ${names.length ? names.join(", ") : "none"}`);
  });
  state.now.textContent = "";
  el("b", null, state.now).textContent = `${t.toFixed(1)} s`;
  const limit = titled ? active.length : 6;
  const shown = active.length > limit ? `${active.slice(0, limit).join(", ")} and ${active.length - limit} more` : active.join(titled ? "; " : ", ");
  el("span", null, state.now).textContent = active.length ? shown : "no predicted event";
}

function seek(v, t) {
  t = Math.max(0, Math.min(v.duration, t));
  if (v.video) v.video.currentTime = Math.min(t, (v.video.duration || v.duration) - 0.01);
  else { move(v, t); v.setStateValue("time", { time: t, clip: v.data.clip }); }
}

function onToolbarClick(v, event) {
  const { state } = v;
  const button = event.target.closest && event.target.closest("button");
  if (!button) return;
  if (button === state.mediaButton) state.media = !state.media;
  else if (button.dataset.mode) state.mode = button.dataset.mode;
  else if (button === state.zoomButtons.zoomIn) state.zoom = ZOOMS[Math.min(ZOOMS.indexOf(state.zoom) + 1, ZOOMS.length - 1)];
  else if (button === state.zoomButtons.zoomOut) state.zoom = ZOOMS[Math.max(ZOOMS.indexOf(state.zoom) - 1, 0)];
  render(v);
  v.setStateValue("view", { mode: state.mode, zoom: state.zoom, media: state.media });
}

// j / k: next / previous clip (a trigger for Python); space: play / pause; left / right: one segment.
// Keys typed into a field or a focused widget stay theirs; in the clip table only j / k are taken.
function onKey(v, event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.composedPath ? event.composedPath()[0] : event.target;
  const tag = (target && target.tagName) || "";
  if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || (target && target.isContentEditable)) return;
  if (target && target.closest && target.closest(INTERACTIVE)) return;
  const inGrid = target && target.closest && target.closest('[data-testid="stDataFrame"]');
  const { video } = v;
  const key = event.key;
  if ((key === "j" || key === "k") && v.data.nav) {
    event.preventDefault();
    const steps = v.state.steps;
    steps.net += key === "j" ? 1 : -1;
    steps.count += 1;
    v.setStateValue("steps", { id: steps.id, net: steps.net, count: steps.count });
  } else if (key === " " && video && !inGrid && tag !== "VIDEO") {
    event.preventDefault();
    if (video.paused) video.play(); else video.pause();
  } else if ((key === "ArrowRight" || key === "ArrowLeft") && !inGrid && tag !== "VIDEO") {
    event.preventDefault();
    const seg = v.first.segment_seconds || 1;
    const now = video ? video.currentTime : v.state.time || 0;
    const index = key === "ArrowRight" ? Math.floor(now / seg + 1e-6) + 1 : Math.ceil(now / seg - 1e-6) - 1;
    seek(v, Math.max(0, index) * seg);
  }
}

// listeners for this render; returns their cleanup (safe to call twice)
function attach(v) {
  const { state, video } = v;
  let frame = null;
  const tick = () => { move(v, video.currentTime); frame = video.paused ? null : requestAnimationFrame(tick); };
  const handlers = {
    click: (event) => {
      if (!(event.target.closest && event.target.closest(".track, .media-lane"))) return;
      const rect = state.inner.getBoundingClientRect();
      seek(v, ((event.clientX - rect.left) / rect.width) * v.duration);
    },
    toolbar: (event) => onToolbarClick(v, event),
    key: (event) => onKey(v, event),
    play: () => { if (!frame) frame = requestAnimationFrame(tick); },
    time: () => move(v, video.currentTime),
    pause: () => v.setStateValue("time", { time: video.currentTime, clip: v.data.clip }),
  };
  const scroll = state.scroll;
  const toolbar = v.root.querySelector(".toolbar");
  const videoEvents = [["play", handlers.play], ["timeupdate", handlers.time], ["seeked", handlers.time], ["pause", handlers.pause]];
  scroll.addEventListener("click", handlers.click);
  toolbar.addEventListener("click", handlers.toolbar);
  document.addEventListener("keydown", handlers.key);
  if (video) {
    for (const [name, handler] of videoEvents) video.addEventListener(name, handler);
    if (!video.paused) handlers.play();
    else move(v, video.currentTime || 0, false);
  }
  let cleaned = false;
  return () => {
    if (cleaned) return;
    cleaned = true;
    if (frame) cancelAnimationFrame(frame);
    scroll.removeEventListener("click", handlers.click);
    toolbar.removeEventListener("click", handlers.toolbar);
    document.removeEventListener("keydown", handlers.key);
    if (video) for (const [name, handler] of videoEvents) video.removeEventListener(name, handler);
  };
}

export default function (component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const root = parentElement.querySelector(".mmcse-timeline") || el("div", "mmcse-timeline", parentElement);
  const sections = sectionsOf(data);
  const hasGt = sections.some((s) => s.timeline.has_gt);
  const state = root.__mmcse || (root.__mmcse = { zoom: 1, mode: null });
  if (!state.steps) state.steps = { id: `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, net: 0, count: 0 };
  if (!state.mode) {  // first mount: the view the URL asked for
    const view = data.view || {};
    state.mode = hasGt && NEEDS_GT.has(view.mode) ? view.mode : hasGt ? data.mode || "rows" : "rows";
    if (ZOOMS.includes(Number(view.zoom))) state.zoom = Number(view.zoom);
    state.media = view.media !== false && view.media !== "0";
  }
  // the video element survives re-renders of the same clip (threshold changes only redraw the lanes)
  if (state.clip !== data.clip || state.src !== data.video || !state.inner) {
    buildFrame(root, state, data);
    state.clip = data.clip;
    state.src = data.video;
    state.time = 0;
  }
  root.dataset.clip = data.clip || "";
  const v = { root, state, data, sections, hasGt, first: sections[0].timeline, video: state.video, setStateValue,
              setTriggerValue, duration: Math.max(...sections.map((s) => s.timeline.duration || 10)) };
  // Streamlit may call this function again on new data without running the previous cleanup: remove
  // the listeners of the previous call first, so that one click is handled once
  if (state.cleanup) state.cleanup();
  render(v);
  state.cleanup = attach(v);
  if (data.table_row != null && (state.scrolledFor !== `${data.clip}:${data.table_row}`)) {
    state.scrolledFor = `${data.clip}:${data.table_row}`;
    scrollTargets.current = data.table_row;
    const scroller = tableScroller(clipTable());
    if (scroller) scroller.__mmcseUserScrolled = false;  // a new clip: its row is brought into view again
    scrollTableRow(data.table_row);
  }
  markTableRow(data.table_row, data.table_key, root, (n) => setStateValue("table_sorted", { key: data.table_key, n }));
  return () => { state.cleanup(); markTableRow(null); };
}

function clipTable() {
  return document.querySelector('[data-testid="stDataFrame"]');  // the clip table: the page's first grid
}

function tableScroller(table) {
  return table && (table.querySelector(".dvn-scroller") || [...table.querySelectorAll("div")].find((e) =>
    e.scrollHeight > e.clientHeight + 4 && ["auto", "scroll"].includes(getComputedStyle(e).overflowY)));
}

// the open clip's row marked over the clip table (an outline drawn above the canvas grid, which clicks pass
// through), at its row in the table's shown order (data.table_row): the grid's own selection stays where the
// user clicked, so that j / k need not send the table again. Kept in place while the grid scrolls or is
// replaced; hidden on a grid sorted by a column header (its rows are then in another order), which is said
// to Python (a new grid on the next clip change)
const tableMark = { row: null, key: null, root: null, report: null, timer: null, sorts: 0, sortedKey: null };
function markTableRow(row, key, root, report) {
  tableMark.row = row == null ? null : row;
  tableMark.key = key || null;
  if (root) tableMark.root = root;
  if (report) tableMark.report = report;
  if (tableMark.row == null) {
    clearInterval(tableMark.timer);
    tableMark.timer = null;
  } else if (!tableMark.timer) tableMark.timer = setInterval(placeTableMark, 400);
  placeTableMark();
}

function placeTableMark() {
  if (tableMark.row != null && !(tableMark.root && tableMark.root.isConnected)) markTableRow(null);  // page left
  const table = clipTable();
  for (const old of document.querySelectorAll(".mmcse-open-row")) {
    if (tableMark.row == null || old.parentElement !== table) old.remove();
  }
  const scroller = tableScroller(table);
  if (tableMark.row == null || !scroller) return;
  if (!scroller.__mmcseMarkWatched) {
    scroller.__mmcseMarkWatched = true;
    scroller.addEventListener("scroll", placeTableMark, { passive: true });
  }
  if (!table.__mmcseHeaderWatched) {
    table.__mmcseHeaderWatched = true;
    table.addEventListener("pointerdown", (event) => {  // a click on the header row: the grid sorts
      const top = tableScroller(table).getBoundingClientRect().top;
      if (event.clientY >= top && event.clientY < top + 35 && tableMark.key) {
        tableMark.sortedKey = tableMark.key;
        tableMark.sorts += 1;
        if (tableMark.report) tableMark.report(tableMark.sorts);
        placeTableMark();
      }
    }, true);
  }
  let mark = [...table.children].find((e) => e.classList.contains("mmcse-open-row"));
  if (!mark) {
    mark = el("div", "mmcse-open-row", table);
    Object.assign(mark.style, { position: "absolute", pointerEvents: "none", boxSizing: "border-box", zIndex: 3,
      borderRadius: "2px", borderStyle: "solid", borderWidth: "2px" });
    if (getComputedStyle(table).position === "static") table.style.position = "relative";
  }
  const color = getComputedStyle(tableMark.root).getPropertyValue("--st-primary-color").trim() || "#ff4b4b";
  mark.style.borderColor = color;
  mark.style.background = `color-mix(in srgb, ${color} 12%, transparent)`;
  const rowHeight = 35;
  const outer = table.getBoundingClientRect();
  const box = scroller.getBoundingClientRect();
  const rowTop = box.top - outer.top + (tableMark.row + 1) * rowHeight - scroller.scrollTop;
  const top = Math.max(rowTop, box.top - outer.top + rowHeight);  // never over the header row
  const bottom = Math.min(rowTop + rowHeight, box.top - outer.top + scroller.clientHeight);
  const shown = bottom > top && tableMark.sortedKey !== tableMark.key;
  mark.style.display = shown ? "block" : "none";
  mark.style.left = `${box.left - outer.left}px`;
  mark.style.width = `${scroller.clientWidth}px`;
  mark.style.top = `${top}px`;
  mark.style.height = `${Math.max(0, bottom - top)}px`;
  mark.dataset.row = String(tableMark.row);
}

// the clip table (the page's first st.dataframe) scrolled so that row `row` is in view. The grid may mount
// after this component, be replaced by a new one (a new key) that starts at the top, or reset its scroll
// when its data arrives: for the next 60 s the row is put back in view whenever it is not, until the user
// scrolls that grid themselves (wheel, pointer, touch or a key on it), which is then left to them until the
// next clip
function scrollTableRow(row, until = Date.now() + 60000) {
  const table = clipTable();
  const scroller = tableScroller(table);
  if (scroller && !scroller.__mmcseUserScrolled) {
    if (!scroller.__mmcseWatched) {
      scroller.__mmcseWatched = true;
      const mark = () => { scroller.__mmcseUserScrolled = true; };
      for (const name of ["wheel", "pointerdown", "touchstart", "keydown"]) scroller.addEventListener(name, mark, { passive: true });
    }
    const rowHeight = 35;
    const top = (row + 1) * rowHeight;  // under the header row, which stays at the top of the scroller
    const visible = () => top >= scroller.scrollTop + rowHeight && top + rowHeight <= scroller.scrollTop + scroller.clientHeight;
    if (!visible()) scroller.scrollTop = Math.max(0, top - scroller.clientHeight / 2);
    if (visible()) table.dataset.scrolledRow = String(row);  // a grid not laid out yet is tried again
  }
  if (Date.now() < until && scrollTargets.current === row) setTimeout(() => scrollTableRow(row, until), 250);
}
const scrollTargets = { current: null };  // the row the latest render asked for: older loops stop
