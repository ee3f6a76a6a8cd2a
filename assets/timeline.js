// Synchronised timeline (st.components.v2): a <video>, per-class lanes for audio / visual / audio-visual
// (prediction bars, ground-truth strips, probability shading), a playhead that follows playback, and a
// click on a lane that seeks the video. Reports the time back to Python on pause and seek.
// All clip data arrives in `data` and is written with textContent / style only (never as HTML).
const LABEL_PX = 170;

function el(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".mmcse-timeline") || el("div", "mmcse-timeline", parentElement);
  const timeline = (data && data.timeline) || { lanes: [], duration: 10, segment_seconds: 1, colors: {} };
  const duration = timeline.duration || 10;
  const state = root.__mmcse || (root.__mmcse = {});

  // the video element survives re-renders of the same clip (threshold changes only redraw the lanes)
  if (state.clip !== data.clip || state.src !== data.video) {
    root.textContent = "";
    state.clip = data.clip;
    state.src = data.video;
    state.video = null;
    if (data.video) {
      const video = el("video", "clip", root);
      video.controls = true;
      video.preload = "auto";
      video.muted = false;
      video.src = data.video;
      state.video = video;
    }
    state.now = el("div", "now", root);
    state.lanes = el("div", "lanes", root);
    state.axis = el("div", "axis", root);
    el("div", "legend", root).textContent =
      "bars: prediction; black strip: ground truth; shading: segment probability; click a lane to seek";
    state.time = 0;
  }
  const video = state.video;
  root.dataset.clip = data.clip || "";

  // ---- lanes
  const lanes = state.lanes;
  lanes.textContent = "";
  const groups = {};
  for (const lane of timeline.lanes) (groups[lane.modality] = groups[lane.modality] || []).push(lane);
  if (!timeline.lanes.length) el("div", "empty", lanes).textContent = "No class predicted or annotated in this clip.";
  for (const [modality, items] of Object.entries(groups)) {
    el("div", "group", lanes).textContent = modality;
    const color = (timeline.colors || {})[modality] || "#444";
    for (const lane of items) {
      const row = el("div", "lane", lanes);
      row.dataset.modality = modality;
      row.dataset.label = lane.label;
      el("div", "label", row).textContent = lane.label;
      const track = el("div", "track", row);
      const seg = timeline.segment_seconds || 1;
      lane.prob.forEach((p, t) => {
        const cell = el("div", "cell", track);
        cell.style.left = `${((t * seg) / duration) * 100}%`;
        cell.style.width = `${(seg / duration) * 100}%`;
        cell.style.background = color;
        cell.style.opacity = String(0.35 * p);
        cell.title = `${lane.label} (${modality}) ${t * seg}-${(t + 1) * seg} s: p=${p.toFixed(2)}`;
      });
      for (const [a, b] of lane.pred) {
        const bar = el("div", "pred", track);
        bar.style.left = `${(a / duration) * 100}%`;
        bar.style.width = `${((b - a) / duration) * 100}%`;
        bar.style.background = color;
      }
      for (const [a, b] of lane.gt || []) {
        const bar = el("div", "gt", track);
        bar.style.left = `${(a / duration) * 100}%`;
        bar.style.width = `${((b - a) / duration) * 100}%`;
      }
      track.addEventListener("click", (event) => {
        const rect = track.getBoundingClientRect();
        const t = Math.max(0, Math.min(duration, ((event.clientX - rect.left) / rect.width) * duration));
        if (video) {
          video.currentTime = t;
        } else {
          move(t);
          setStateValue("time", t);
        }
      });
    }
  }
  const playhead = el("div", "playhead", lanes);

  // ---- axis
  state.axis.textContent = "";
  const step = duration <= 12 ? 1 : duration <= 60 ? 5 : 10;
  for (let t = 0; t <= duration + 1e-6; t += step) {
    const tick = el("span", "tick", state.axis);
    tick.style.left = `${(t / duration) * 100}%`;
    tick.textContent = `${t}s`;
  }

  // ---- playhead and the events under it
  function move(t) {
    state.time = t;
    const frac = Math.max(0, Math.min(1, t / duration));
    playhead.style.left = `calc(${LABEL_PX}px + (100% - ${LABEL_PX}px) * ${frac})`;
    playhead.dataset.time = t.toFixed(3);
    const active = [];
    for (const lane of timeline.lanes) {
      if (lane.pred.some(([a, b]) => t >= a && t < b)) active.push(`${lane.label} (${lane.modality})`);
    }
    state.now.textContent = "";
    el("b", null, state.now).textContent = `${t.toFixed(1)} s`;
    const shown = active.length > 8 ? `${active.slice(0, 8).join(", ")} and ${active.length - 8} more` : active.join(", ");
    el("span", null, state.now).textContent = active.length ? shown : "no predicted event";
  }
  move(video ? video.currentTime || 0 : state.time || 0);

  let frame = null;
  const tick = () => {
    move(video.currentTime);
    frame = video.paused ? null : requestAnimationFrame(tick);
  };
  const onPlay = () => { if (!frame) frame = requestAnimationFrame(tick); };
  const onTime = () => move(video.currentTime);
  const onReport = () => setStateValue("time", video.currentTime);
  if (video) {
    video.addEventListener("play", onPlay);
    video.addEventListener("timeupdate", onTime);
    video.addEventListener("seeked", onTime);
    video.addEventListener("pause", onReport);
    if (!video.paused) onPlay();
  }
  return () => {
    if (frame) cancelAnimationFrame(frame);
    if (video) {
      video.removeEventListener("play", onPlay);
      video.removeEventListener("timeupdate", onTime);
      video.removeEventListener("seeked", onTime);
      video.removeEventListener("pause", onReport);
    }
  };
}
