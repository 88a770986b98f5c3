// LiveToken web panel: renders what /ws sends. The server formats every cell and the summary
// with the TUI's own code, so this file only lays things out, keeps rows by id and draws charts.
"use strict";

const PALETTE = ["#56c8e0", "#e5c15b", "#5fd38d", "#d58af0", "#ff8f5a", "#8fa8ff", "#ff6b9a", "#b5d65a"];
const RETRY_FIRST_MS = 500;
const RETRY_LIMIT_MS = 5000;

const rows = new Map(); // id -> {data, el}: upserted in place, so a row never appears twice
const colours = new Map(); // model -> colour, stable for the page's life
let columns = [];
let retryMs = RETRY_FIRST_MS;
let drawPending = false;

const $ = (selector) => document.querySelector(selector);

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/ws`);
  socket.onopen = () => { retryMs = RETRY_FIRST_MS; };
  socket.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; } // never let one message stop the page
    try { handle(message); } catch (error) { console.error("livetoken: bad message", error, message); }
  };
  socket.onclose = () => {
    // The server (or the network) went away: say so, and try again with a growing pause.
    const seconds = (retryMs / 1000).toFixed(1);
    setConnection("disconnected", `disconnected from the web server, retrying in ${seconds}s`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_LIMIT_MS);
  };
}

function handle(message) {
  switch (message.type) {
    case "status":
      setConnection(message.link, message.text);
      break;
    case "snapshot":
      columns = message.columns || columns;
      renderHeader();
      replaceAll(message.rows || []);
      renderSummary(message.summary || []);
      break;
    case "update":
      for (const row of message.rows || []) upsert(row);
      for (const id of message.removed || []) remove(id);
      renderSummary(message.summary || []);
      break;
    default:
      break; // a newer server's message: ignored, like unknown feed fields
  }
  $("#empty").hidden = rows.size > 0;
  scheduleDraw();
}

function setConnection(link, text) {
  const bar = $("#connection");
  bar.className = `link-${String(link).replace(/\s+/g, "-")}`;
  bar.textContent = text;
  document.body.dataset.link = link;
}

function styleClasses(style) {
  return (style || "").split(/\s+/).filter(Boolean).map((word) => `s-${word}`);
}

function renderHeader() {
  const tr = $("#requests thead tr");
  tr.replaceChildren(...columns.map(([label, right]) => {
    const th = document.createElement("th");
    th.textContent = label;
    if (right) th.className = "right";
    return th;
  }));
}

function fillRow(el, row) {
  el.className = row.state === "streaming" ? "streaming" : "";
  el.dataset.state = row.state;
  const cells = row.cells || [];
  while (el.children.length < cells.length) el.appendChild(document.createElement("td"));
  cells.forEach(([text, style], index) => {
    const td = el.children[index];
    const classes = styleClasses(style);
    if (columns[index] && columns[index][1]) classes.push("right");
    if (columns[index]) classes.push(`col-${columns[index][0].replace(/[^a-z]/gi, "")}`);
    if (columns[index] && columns[index][0] === "state") classes.push("state");
    td.className = classes.join(" ");
    td.textContent = text;
  });
}

function upsert(row) {
  if (!row || typeof row.id !== "string" || !Array.isArray(row.cells)) return;
  const known = rows.get(row.id);
  if (known) {
    known.data = row;
    fillRow(known.el, row); // the same element, changed in place
    return;
  }
  const el = document.createElement("tr");
  el.dataset.id = row.id;
  fillRow(el, row);
  $("#requests tbody").prepend(el); // newest on top, as in the terminal
  rows.set(row.id, { data: row, el });
}

function remove(id) {
  const known = rows.get(id);
  if (known) {
    known.el.remove();
    rows.delete(id);
  }
}

function replaceAll(list) {
  // A snapshot is the whole truth: rows it lacks go, rows it has keep their elements.
  const keep = new Set(list.map((row) => row && row.id));
  for (const id of [...rows.keys()]) if (!keep.has(id)) remove(id);
  const body = $("#requests tbody");
  for (const row of list) upsert(row);
  // Order newest first (the list is oldest first) without recreating elements.
  for (const row of list) {
    const known = row && rows.get(row.id);
    if (known) body.prepend(known.el);
  }
}

function renderSummary(pairs) {
  $("#summary").replaceChildren(...pairs.map(([label, value, style]) => {
    const span = document.createElement("span");
    const name = document.createElement("b");
    name.className = "label";
    name.textContent = label;
    const figure = document.createElement("b");
    figure.className = styleClasses(style).join(" ");
    figure.textContent = value || "-";
    span.append(name, figure);
    return span;
  }));
}

// -- charts -------------------------------------------------------------------------------

function colourFor(model) {
  if (!colours.has(model)) colours.set(model, PALETTE[colours.size % PALETTE.length]);
  return colours.get(model);
}

function series(field, finishedOnly) {
  // model -> [[started_at, value]] in time order
  const byModel = new Map();
  for (const { data } of rows.values()) {
    const value = data[field];
    if (typeof value !== "number" || typeof data.started_at !== "number") continue;
    if (finishedOnly && data.state !== "done") continue; // speed settles only at the end
    const model = data.model || "(unknown)";
    if (!byModel.has(model)) byModel.set(model, []);
    byModel.get(model).push([data.started_at, value]);
  }
  for (const points of byModel.values()) points.sort((a, b) => a[0] - b[0]);
  return byModel;
}

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    const ttft = series("ttft_ms", false);
    const speed = series("tokens_per_s", true);
    drawChart($("#ttft-chart"), ttft, (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)}s` : `${v.toFixed(0)}ms`));
    drawChart($("#speed-chart"), speed, (v) => v.toFixed(v < 100 ? 1 : 0));
    renderLegend(new Set([...ttft.keys(), ...speed.keys()]));
  });
}

function clock(seconds) {
  return new Date(seconds * 1000).toTimeString().slice(0, 8);
}

function drawChart(canvas, byModel, label) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 52, right = 10, top = 10, bottom = 22;
  const plotW = width - left - right, plotH = height - top - bottom;
  const all = [...byModel.values()].flat();
  ctx.font = "11px ui-monospace, monospace";
  ctx.fillStyle = "#7d8590";
  ctx.strokeStyle = "#2b3038";
  ctx.lineWidth = 1;
  if (!all.length) {
    ctx.fillText("no data yet", left, top + plotH / 2);
    return;
  }
  let t0 = Math.min(...all.map((p) => p[0]));
  let t1 = Math.max(...all.map((p) => p[0]));
  if (t1 - t0 < 1) { t0 -= 0.5; t1 += 0.5; } // one instant still gets a readable axis
  const top_ = Math.max(...all.map((p) => p[1])) * 1.1 || 1;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => top + plotH - (v / top_) * plotH;
  // Grid: zero, half and the top, labelled on the left; start and end times below.
  ctx.textAlign = "right";
  for (const fraction of [0, 0.5, 1]) {
    const value = top_ * fraction;
    ctx.beginPath();
    ctx.moveTo(left, y(value) + 0.5);
    ctx.lineTo(left + plotW, y(value) + 0.5);
    ctx.stroke();
    ctx.fillText(label(value), left - 6, y(value) + 4);
  }
  ctx.textAlign = "left";
  ctx.fillText(clock(t0), left, height - 6);
  ctx.textAlign = "right";
  ctx.fillText(clock(t1), left + plotW, height - 6);
  for (const [model, points] of byModel) {
    ctx.strokeStyle = ctx.fillStyle = colourFor(model);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    ctx.stroke();
    for (const [t, v] of points) {
      ctx.beginPath();
      ctx.arc(x(t), y(v), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}

function renderLegend(models) {
  $("#legend").replaceChildren(...[...models].sort().map((model) => {
    const li = document.createElement("li");
    const swatch = document.createElement("i");
    swatch.style.background = colourFor(model);
    li.append(swatch, model);
    return li;
  }));
}

window.addEventListener("resize", scheduleDraw);
connect();
