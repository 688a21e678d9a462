// The judge page: asks the API for a pair, shows it, posts the answer.
// Plain JS, no framework, no build step, no inline handlers (CSP script-src 'self').
//
// One view (centre + zoom) is shared by every panel, so source, A and B always
// show the same region at the same scale, in every compare mode. Large images
// come as a tile pyramid: the preview first, then the tiles of the level the
// zoom needs, for the visible region only.
(function () {
  "use strict";
  const root = document.getElementById("judge");
  if (!root) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const form = $("judgment-form");
  const viewer = $("viewer");
  const LAYERS = ["source", "left", "right"];
  const NAMES = {source: "Source", left: "A", right: "B"};
  const ZOOMS = [0.125, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 16];
  const BACKGROUNDS = ["grey", "white", "black", "checker"];

  let current = null;        // the assignment being judged
  let busy = false;
  let mode = "side";         // side | flip | source | wipe | diff
  let showing = "left";      // flip / source modes: the layer on show
  let lastOutput = "left";   // source mode flips between this and the source
  let peek = false;          // Space held
  let diffOf = "left-right"; // diff mode: "left-right" | "left-source" | "right-source"
  let wipe = 0.5;            // wipe line, fraction of the frame's width
  let bg = 0;
  let loupeOn = false;
  let pinArmed = false;
  let pointer = null;        // {port, x, y} last mouse position over a port
  const view = {z: "fit", cx: 0.5, cy: 0.5};  // z: device pixels per reference pixel, or "fit"
  let state = null;          // the draft: choice, tags, pins, rationale, unsure, ...

  // ----- small helpers ------------------------------------------------------------

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function post(url, body, headers) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: Object.assign({"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"}, headers || {}),
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const dpr = () => window.devicePixelRatio || 1;
  function showError(message) { $("error").textContent = message || ""; }
  function tagLabel(slug) { return (current && current.tags && current.tags[slug]) || slug; }
  function accepts(field) { return !!(current && Array.isArray(current.accepts) && current.accepts.includes(field)); }
  // The unacceptable marks travel with i9's rubric: shown when the server says it
  // takes them, or when the assignment carries criteria (the same change adds both).
  function hasUnacceptable() { return accepts("unacceptable") || !!(current && "criteria" in current); }
  function criteriaList() { return current && Array.isArray(current.criteria) ? current.criteria : []; }

  // ----- worlds: one image (base + tiles) inside one port ----------------------

  const ports = {};
  for (const el of viewer.querySelectorAll(".port")) ports[el.dataset.port] = {el: el, name: el.dataset.port, worlds: {}};

  function makeWorld(port, layer) {
    const el = document.createElement("div");
    el.className = "world";
    el.dataset.layer = layer;
    const base = document.createElement("img");
    base.className = "base";
    base.alt = NAMES[layer] + " image";
    base.draggable = false;
    el.appendChild(base);
    const pins = document.createElement("div");
    pins.className = "pins";
    port.el.insertBefore(el, port.el.firstChild);
    const world = {el: el, base: base, layer: layer, tiles: new Map(), level: -1, info: null, pinsEl: pins};
    port.worlds[layer] = world;
    port.el.appendChild(pins);
    return world;
  }
  makeWorld(ports.source, "source");
  makeWorld(ports.left, "left");
  makeWorld(ports.right, "right");
  for (const layer of LAYERS) makeWorld(ports.single, layer);
  const diffCanvas = document.createElement("canvas");
  diffCanvas.className = "diff";
  ports.single.el.insertBefore(diffCanvas, ports.single.el.querySelector(".wipe-line"));

  function ref() { return current ? current.left : {width: 1, height: 1}; }

  // CSS pixels per reference (A) pixel in a port.
  function scaleIn(port) {
    const r = ref();
    if (view.z === "fit") return Math.min(port.el.clientWidth / r.width, port.el.clientHeight / r.height);
    return view.z / dpr();
  }

  function geometry(port) {
    const r = ref(), s = scaleIn(port), w = port.el.clientWidth, h = port.el.clientHeight, d = dpr();
    const cx = view.z === "fit" ? 0.5 : view.cx, cy = view.z === "fit" ? 0.5 : view.cy;
    // Device-pixel aligned, so 100 % maps each image pixel onto one screen pixel.
    const tx = Math.round((w / 2 - cx * r.width * s) * d) / d;
    const ty = Math.round((h / 2 - cy * r.height * s) * d) / d;
    return {s: s, tx: tx, ty: ty, w: w, h: h, rw: r.width * s, rh: r.height * s};
  }

  function activePorts() {
    return mode === "side" ? [ports.source, ports.left, ports.right] : [ports.single];
  }

  function levelFor(info, cssPerPixel) {
    // Device pixels per pixel of this image; tiled levels only above the preview's scale.
    const d = cssPerPixel * dpr();
    if (!info.tile_levels) return -1;
    const previewScale = 1024 / Math.max(info.width, info.height);
    if (d <= previewScale * 1.001) return -1;
    return clamp(Math.floor(-Math.log2(d) + 1e-9), 0, info.tile_levels - 1);
  }

  function tileUrl(info, level, col, row) {
    return info.tile_url.replace("{level}", level).replace("{col}", col).replace("{row}", row);
  }

  let pendingTiles = 0;
  function setLoading() { $("loading").textContent = pendingTiles ? "loading " + pendingTiles + " tile" + (pendingTiles > 1 ? "s" : "") + "…" : ""; }

  // The stored thumbnail first (the pair appears at once), then the preview
  // when the zoom needs more pixels; never back down.
  const BASES = ["thumb", "preview"];
  function updateBase(world, s) {
    const info = world.info, need = s * dpr() * 0.999;
    const scales = {thumb: info.thumb_scale, preview: Math.min(1, 1024 / Math.max(info.width, info.height))};
    const kind = BASES.find((k) => scales[k] >= need) || "preview";
    if (BASES.indexOf(kind) <= BASES.indexOf(world.baseKind)) {
      if (!world.loadingBase) { world.sharp = true; checkSharp(); }
      return;
    }
    world.baseKind = kind;
    world.loadingBase = true;
    const url = info[kind + "_url"];
    preload(url).then(() => {
      if (world.info !== info || world.baseKind !== kind) return;
      world.base.src = url;
      world.loadingBase = false;
      world.sharp = true;
      checkSharp();
    });
  }

  // For the measure in the README: from submit to a sharp picture in every panel.
  let sharpStart = 0;
  function checkSharp() {
    if (!sharpStart) return;
    if (activePorts().every((p) => Object.values(p.worlds).every((w) => w.sharp))) {
      const ms = performance.now() - sharpStart;
      sharpStart = 0;
      requestAnimationFrame(() => { root.dataset.lastSharpMs = ms.toFixed(1); });
      prefetchDetail();
    }
  }

  function updateTiles(world, g) {
    const info = world.info;
    if (!info) return;
    const s = g.s * ref().width / info.width;  // CSS px per pixel of this image
    updateBase(world, s);
    const level = levelFor(info, s);
    if (level !== world.level) {
      for (const t of world.tiles.values()) t.remove();
      world.tiles.clear();
      world.level = level;
    }
    if (level < 0) return;
    const f = 1 << level, T = info.tile_size * f;  // a tile's size in level-0 pixels
    const x0 = Math.max(0, -g.tx / s), y0 = Math.max(0, -g.ty / s);
    const x1 = Math.min(info.width, (g.w - g.tx) / s), y1 = Math.min(info.height, (g.h - g.ty) / s);
    for (let row = Math.floor(y0 / T); row * T < y1; row++) {
      for (let col = Math.floor(x0 / T); col * T < x1; col++) {
        const key = col + "_" + row;
        if (world.tiles.has(key)) continue;
        const img = document.createElement("img");
        img.className = "tile";
        img.alt = "";
        img.draggable = false;
        img.style.left = col * T + "px";
        img.style.top = row * T + "px";
        img.style.width = Math.min(T, info.width - col * T) + "px";
        img.style.height = Math.min(T, info.height - row * T) + "px";
        pendingTiles++; setLoading();
        const done = () => { pendingTiles--; setLoading(); };
        img.addEventListener("load", () => { img.classList.add("ready"); done(); if (mode === "diff") scheduleDiff(); }, {once: true});
        img.addEventListener("error", done, {once: true});
        img.src = tileUrl(info, level, col, row);
        world.tiles.set(key, img);
        world.el.appendChild(img);
      }
    }
  }

  function layersShown() {
    if (mode === "side") return null;
    if (mode === "flip" || mode === "source") {
      let layer = showing;
      if (peek) layer = mode === "flip" ? (showing === "left" ? "right" : "left") : (showing === "source" ? lastOutput : "source");
      return [layer];
    }
    if (mode === "wipe") return peek ? ["right"] : ["left", "right"];
    return peek ? [diffOf.split("-")[0]] : ["diff"];
  }

  let frame = 0;
  function render() {
    if (frame) return;
    frame = requestAnimationFrame(() => { frame = 0; renderNow(); });
  }

  function renderNow() {
    if (!current) return;
    const shown = layersShown();
    $("caption-single").textContent = captionSingle();  // before any size is read
    for (const port of activePorts()) {
      const g = geometry(port);
      for (const world of Object.values(port.worlds)) {
        const layer = world.layer;
        if (!world.info) continue;
        const k = g.s * ref().width / world.info.width;
        world.el.style.width = world.info.width + "px";
        world.el.style.height = world.info.height + "px";
        world.el.style.transform = "translate(" + g.tx + "px," + g.ty + "px) scale(" + k + ")";
        const visible = !shown || shown.includes(layer);
        world.el.classList.toggle("hidden", !visible);
        world.el.classList.toggle("wiped", mode === "wipe" && !peek && layer === "right");
        world.el.classList.toggle("pixelated", k * dpr() >= 2);
        updateTiles(world, g);
      }
      if (port === ports.single) {
        const wiped = port.worlds.right.el;
        wiped.style.clipPath = mode === "wipe" && !peek ? "inset(0 0 0 " + ((wipe * g.w - g.tx) / k0(g, "right")) + "px)" : "";
        $("wipe-line").style.left = (wipe * 100) + "%";
        diffCanvas.classList.toggle("hidden", !(shown && shown.includes("diff")));
        if (mode === "diff") scheduleDiff();
      }
      // The visible region in fractions of the image: the tests compare panels by it.
      port.el.dataset.region = [-g.tx / g.rw, -g.ty / g.rh, (g.w - g.tx) / g.rw, (g.h - g.ty) / g.rh]
        .map((v) => v.toFixed(4)).join(",");
      port.el.dataset.scale = (g.s * dpr()).toFixed(4);
      renderPins(port, g);
    }
    const z = geometry(activePorts()[0]).s * dpr();
    $("zoom-now").textContent = Math.round(z * 100) + " %";
    if (loupeOn && pointer) loupeAt(pointer);
  }

  function k0(g, layer) { return g.s * ref().width / current[layer].width; }

  function captionSingle() {
    const shown = layersShown();
    if (!shown) return "";
    if (mode === "wipe") return peek ? "B (peek)" : "A | B   ([ ] move)";
    if (mode === "diff") {
      if (peek) return NAMES[shown[0]] + " (peek)";
      const [a, b] = diffOf.split("-");
      return "Difference " + NAMES[a] + " − " + NAMES[b] + " (×4; D cycles)";
    }
    const layer = shown[0];
    return NAMES[layer] + (peek ? " (peek)" : "") + (mode === "flip" ? "   (F flips)" : "   (O flips with source)");
  }

  // ----- difference view --------------------------------------------------------

  let diffTimer = 0;
  function scheduleDiff() {
    clearTimeout(diffTimer);
    diffTimer = setTimeout(drawDiff, 30);
  }

  // Draws |a - b| x 4 for the visible region, at screen resolution, from the
  // images already on screen (same-origin, so their pixels are readable).
  function drawDiff() {
    if (mode !== "diff" || !current) return;
    const port = ports.single, g = geometry(port), d = dpr();
    const W = Math.max(1, Math.round(g.w * d)), H = Math.max(1, Math.round(g.h * d));
    diffCanvas.width = W; diffCanvas.height = H;
    diffCanvas.style.width = g.w + "px"; diffCanvas.style.height = g.h + "px";
    const [a, b] = diffOf.split("-");
    const pa = paintLayer(port.worlds[a], g, W, H), pb = paintLayer(port.worlds[b], g, W, H);
    if (!pa || !pb) return;
    const out = diffCanvas.getContext("2d");
    const ia = pa.getImageData(0, 0, W, H), ib = pb.getImageData(0, 0, W, H);
    const o = out.createImageData(W, H), x = ia.data, y = ib.data, z = o.data;
    for (let i = 0; i < z.length; i += 4) {
      z[i] = Math.min(255, Math.abs(x[i] - y[i]) * 4);
      z[i + 1] = Math.min(255, Math.abs(x[i + 1] - y[i + 1]) * 4);
      z[i + 2] = Math.min(255, Math.abs(x[i + 2] - y[i + 2]) * 4);
      z[i + 3] = 255;
    }
    out.putImageData(o, 0, 0);
    diffCanvas.dataset.drawn = diffOf;
  }

  function paintLayer(world, g, W, H) {
    const c = document.createElement("canvas");
    c.width = W; c.height = H;
    const ctx = c.getContext("2d", {willReadFrequently: true});
    ctx.imageSmoothingEnabled = g.s * dpr() < 2;
    const k = g.s * ref().width / world.info.width, d = dpr();
    ctx.setTransform(k * d, 0, 0, k * d, g.tx * d, g.ty * d);
    try {
      if (world.base.complete && world.base.naturalWidth) ctx.drawImage(world.base, 0, 0, world.info.width, world.info.height);
      for (const t of world.tiles.values()) {
        if (t.complete && t.naturalWidth) ctx.drawImage(t, parseFloat(t.style.left), parseFloat(t.style.top), parseFloat(t.style.width), parseFloat(t.style.height));
      }
    } catch (err) { return null; }
    return ctx;
  }

  // ----- pins -------------------------------------------------------------------

  function renderPins(port, g) {
    for (const world of Object.values(port.worlds)) {
      const layer = world.layer;
      world.pinsEl.textContent = "";
      if (!state || layer === "source" || world.el.classList.contains("hidden")) continue;
      state.pins.forEach((pin, n) => {
        if (pin.side !== layer) return;
        const m = document.createElement("span");
        m.className = "pin-marker";
        m.textContent = String(n + 1);
        m.title = NAMES[pin.side] + ": " + tagLabel(pin.tag);
        m.style.left = (g.tx + pin.x * g.rw) + "px";
        m.style.top = (g.ty + pin.y * g.rh) + "px";
        world.pinsEl.appendChild(m);
      });
    }
  }

  // ----- zoom and pan -----------------------------------------------------------

  function currentZ() { return view.z === "fit" ? geometry(activePorts()[0]).s * dpr() : view.z; }

  function zoomTo(z, port, px, py) {
    port = port || activePorts()[0];
    const g = geometry(port);
    if (px === undefined) { px = g.w / 2; py = g.h / 2; }
    const nx = (px - g.tx) / g.rw, ny = (py - g.ty) / g.rh;  // the point that stays put
    if (z === "fit") { view.z = "fit"; view.cx = 0.5; view.cy = 0.5; }
    else {
      const fit = Math.min(port.el.clientWidth / ref().width, port.el.clientHeight / ref().height) * dpr();
      z = clamp(z, Math.min(fit, 0.1), 32);
      const s = z / dpr();
      view.z = z;
      view.cx = clamp((g.w / 2 - px) / (ref().width * s) + nx, 0, 1);
      view.cy = clamp((g.h / 2 - py) / (ref().height * s) + ny, 0, 1);
    }
    syncZoomButtons();
    renderNow();  // at once: pointer events come at most once a frame anyway
  }

  function stepZoom(dir, port, px, py) {
    const z = currentZ();
    const next = dir > 0 ? ZOOMS.find((v) => v > z * 1.01) : ZOOMS.slice().reverse().find((v) => v < z * 0.99);
    zoomTo(next === undefined ? z : next, port, px, py);
  }

  function pan(dx, dy) {
    if (view.z === "fit") { view.z = currentZ(); }
    const g = geometry(activePorts()[0]);
    view.cx = clamp(view.cx - dx / g.rw, 0, 1);
    view.cy = clamp(view.cy - dy / g.rh, 0, 1);
    renderNow();
  }

  function syncZoomButtons() {
    viewer.classList.toggle("zoomed", view.z !== "fit");
    viewer.classList.toggle("zoom-2", view.z === 2);
    for (const b of document.querySelectorAll("button.zoom")) {
      const on = b.dataset.zoom === String(view.z);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.classList.toggle("active", on);
    }
  }

  function portOf(target) { const el = target.closest && target.closest(".port"); return el ? ports[el.dataset.port] : null; }
  function localXY(port, event) { const r = port.el.getBoundingClientRect(); return [event.clientX - r.left, event.clientY - r.top]; }

  viewer.addEventListener("wheel", (event) => {
    const port = portOf(event.target);
    if (!port || !current) return;
    event.preventDefault();
    const [x, y] = localXY(port, event);
    // Trackpad pinches arrive as wheel events with ctrlKey and small deltas.
    const factor = Math.pow(2, -event.deltaY / (event.ctrlKey ? 100 : 300));
    zoomTo(currentZ() * factor, port, x, y);
  }, {passive: false});

  const touches = new Map();
  let drag = null;
  viewer.addEventListener("pointerdown", (event) => {
    const port = portOf(event.target);
    if (!port || !current || event.button > 0) return;
    const [x, y] = localXY(port, event);
    if (pinArmed && (port.name === "left" || port.name === "right" || (port.name === "single" && sideUnder(port) !== null))) {
      placePin(port, x, y);
      return;
    }
    port.el.setPointerCapture(event.pointerId);
    touches.set(event.pointerId, {x: event.clientX, y: event.clientY});
    const g = geometry(port);
    const onWipe = mode === "wipe" && Math.abs(x - wipe * g.w) < 14;
    drag = {port: port, x: event.clientX, y: event.clientY, wipe: onWipe, dist: 0};
    port.el.classList.add("dragging");
  });
  viewer.addEventListener("pointermove", (event) => {
    const port = portOf(event.target);
    if (port) { const [x, y] = localXY(port, event); pointer = {port: port, x: x, y: y}; if (loupeOn) loupeAt(pointer); }
    if (!drag) return;
    if (touches.has(event.pointerId) && touches.size === 2) {  // pinch on a touch screen
      const [idA, idB] = Array.from(touches.keys());
      const a = touches.get(idA), b = touches.get(idB);
      const before = Math.hypot(a.x - b.x, a.y - b.y);
      touches.set(event.pointerId, {x: event.clientX, y: event.clientY});
      const a2 = touches.get(idA), b2 = touches.get(idB);
      const after = Math.hypot(a2.x - b2.x, a2.y - b2.y);
      const r = drag.port.el.getBoundingClientRect();
      if (before > 0) zoomTo(currentZ() * after / before, drag.port, (a2.x + b2.x) / 2 - r.left, (a2.y + b2.y) / 2 - r.top);
      return;
    }
    touches.set(event.pointerId, {x: event.clientX, y: event.clientY});
    const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
    drag.x = event.clientX; drag.y = event.clientY;
    if (drag.wipe) { const r = drag.port.el.getBoundingClientRect(); wipe = clamp((event.clientX - r.left) / r.width, 0, 1); renderNow(); }
    else pan(dx, dy);
  });
  function endDrag(event) {
    touches.delete(event.pointerId);
    if (drag && touches.size === 0) { drag.port.el.classList.remove("dragging"); drag = null; }
  }
  viewer.addEventListener("pointerup", endDrag);
  viewer.addEventListener("pointercancel", endDrag);
  viewer.addEventListener("pointerleave", () => { pointer = null; $("loupe-box").hidden = true; });

  // ----- loupe ------------------------------------------------------------------

  const sampleCache = new Map();  // url -> canvas context with the pixels
  function pixelSource(info, x, y) {
    if (!info.tile_levels) return {url: info.url, x: x, y: y};
    const T = info.tile_size, col = Math.floor(x / T), row = Math.floor(y / T);
    return {url: tileUrl(info, 0, col, row), x: x - col * T, y: y - row * T};
  }
  function samplePixel(info, x, y) {
    const src = pixelSource(info, x, y);
    let entry = sampleCache.get(src.url);
    if (!entry) {
      entry = new Promise((resolve) => {
        const img = new Image();
        img.onload = () => {
          const c = document.createElement("canvas");
          c.width = img.naturalWidth; c.height = img.naturalHeight;
          const ctx = c.getContext("2d", {willReadFrequently: true});
          ctx.drawImage(img, 0, 0);
          resolve(ctx);
        };
        img.onerror = () => resolve(null);
        img.src = src.url;
      });
      sampleCache.set(src.url, entry);
      if (sampleCache.size > 40) sampleCache.delete(sampleCache.keys().next().value);
    }
    return entry.then((ctx) => (ctx ? Array.from(ctx.getImageData(src.x, src.y, 1, 1).data) : null));
  }

  function lab(r, g, b) {
    const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    const R = lin(r), G = lin(g), B = lin(b);
    const X = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
    const Y = 0.2126729 * R + 0.7151522 * G + 0.0721750 * B;
    const Z = (0.0193339 * R + 0.1191920 * G + 0.9503041 * B) / 1.08883;
    const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
    return [116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))];
  }

  let loupeSeq = 0;
  function loupeAt(p) {
    const g = geometry(p.port), nx = (p.x - g.tx) / g.rw, ny = (p.y - g.ty) / g.rh;
    const box = $("loupe-box");
    if (nx < 0 || ny < 0 || nx >= 1 || ny >= 1) { box.hidden = true; return; }
    const seq = ++loupeSeq;
    Promise.all(LAYERS.map((layer) => {
      const info = current[layer];
      return samplePixel(info, Math.floor(nx * info.width), Math.floor(ny * info.height));
    })).then((values) => {
      if (seq !== loupeSeq || !loupeOn) return;
      const rows = values.map((v, i) => {
        if (!v) return "";
        const [L, a, b] = lab(v[0], v[1], v[2]);
        const clip = v.slice(0, 3).some((c) => c >= 255) ? " clipped" : v.slice(0, 3).every((c) => c <= 2) ? " crushed" : "";
        return "<tr><th>" + NAMES[LAYERS[i]] + "</th><td>" + v[0] + " " + v[1] + " " + v[2] + (v[3] < 255 ? " α" + v[3] : "") +
          "</td><td>L " + L.toFixed(1) + " a " + a.toFixed(1) + " b " + b.toFixed(1) + clip + "</td></tr>";
      });
      const x = Math.floor(nx * ref().width), y = Math.floor(ny * ref().height);
      box.innerHTML = "<table><caption>x " + x + " y " + y + "</caption>" + rows.join("") + "</table>";
      const vr = viewer.getBoundingClientRect(), pr = p.port.el.getBoundingClientRect();
      box.style.left = Math.min(pr.left - vr.left + p.x + 16, vr.width - 280) + "px";
      box.style.top = Math.min(pr.top - vr.top + p.y + 16, vr.height - 90) + "px";
      box.hidden = false;
    });
  }

  // ----- modes ------------------------------------------------------------------

  function setMode(m) {
    if (m === "flip") {
      if (mode === "flip") showing = showing === "left" ? "right" : "left";
      else showing = lastOutput;
    } else if (m === "source") {
      if (mode === "source") showing = showing === "source" ? lastOutput : "source";
      else showing = "source";
    } else if (m === "diff" && mode === "diff") {
      diffOf = {"left-right": "left-source", "left-source": "right-source", "right-source": "left-right"}[diffOf];
    }
    if (showing !== "source") lastOutput = showing;
    mode = m;
    root.classList.remove("mode-side", "mode-flip", "mode-source", "mode-wipe", "mode-diff");
    root.classList.add("mode-" + m, );
    root.classList.toggle("single-mode", m !== "side");
    for (const b of document.querySelectorAll("button.mode")) b.setAttribute("aria-pressed", b.dataset.mode === m ? "true" : "false");
    renderNow();
  }

  function setPeek(on) { if (peek !== on && mode !== "side") { peek = on; renderNow(); } }

  function setBackground(n) {
    bg = n % BACKGROUNDS.length;
    for (const name of BACKGROUNDS) root.classList.toggle("bg-" + name, name === BACKGROUNDS[bg]);
    $("bg").textContent = "Bg: " + BACKGROUNDS[bg];
    localStorage.setItem("pairwise.bg", String(bg));
  }

  function toggle(button, on) { button.setAttribute("aria-pressed", on ? "true" : "false"); }

  // ----- the draft (survives reloads and crashes) ---------------------------------

  const draftKey = (id) => "pairwise.draft." + id;
  function freshState() {
    return {choice: null, tags: {left: [], right: []}, pins: [], rationale: "", unsure: false,
            unacceptable: {left: false, right: false}, criteria: {}, key: uuid()};
  }
  function saveDraft() {
    if (!current || !state) return;
    state.saved = Date.now();
    try { localStorage.setItem(draftKey(current.id), JSON.stringify(state)); } catch (err) { /* full or disabled */ }
  }
  function loadDraft(id) {
    try {
      const raw = localStorage.getItem(draftKey(id));
      if (raw) return Object.assign(freshState(), JSON.parse(raw));
    } catch (err) { /* a corrupt draft is dropped */ }
    return freshState();
  }
  function dropDraft(id) {
    localStorage.removeItem(draftKey(id));
    // Drafts of pairs that expired or went to another tab: keep the newest 20.
    const drafts = Object.keys(localStorage).filter((k) => k.startsWith("pairwise.draft."))
      .map((k) => { try { return [k, JSON.parse(localStorage.getItem(k)).saved || 0]; } catch (err) { return [k, 0]; } })
      .sort((a, b) => b[1] - a[1]);
    for (const [k] of drafts.slice(20)) localStorage.removeItem(k);
  }

  function minChars() { return Math.max(current ? current.rationale_min_chars : 0, 1); }
  function updateCounter() {
    const n = $("rationale").value.trim().length;
    $("counter").textContent = n + " / " + minChars();
    $("counter").classList.toggle("ok", n >= minChars());
  }

  function applyState() {
    for (const input of form.querySelectorAll('input[name="choice"]')) input.checked = input.value === state.choice;
    $("rationale").value = state.rationale;
    toggle($("unsure"), state.unsure);
    toggle($("unacceptable-left"), state.unacceptable.left);
    toggle($("unacceptable-right"), state.unacceptable.right);
    for (const input of $("criteria").querySelectorAll("input")) input.checked = state.criteria[input.dataset.name] === input.value;
    renderChips();
    updateCounter();
    render();
  }

  function renderChips() {
    for (const side of ["left", "right"]) {
      const box = $("chips-" + side);
      box.textContent = "";
      for (const tag of state.tags[side]) {
        const pins = state.pins.filter((p) => p.side === side && p.tag === tag).length;
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = "chip";
        chip.dataset.side = side; chip.dataset.tag = tag;
        chip.textContent = tagLabel(tag) + (pins ? " · " + pins + " pin" + (pins > 1 ? "s" : "") : "") + " ×";
        chip.title = "Remove " + tagLabel(tag) + " from " + NAMES[side] + " (and its pins)";
        box.appendChild(chip);
      }
    }
  }

  function setTag(side, tag, on) {
    const list = state.tags[side];
    if (on && !list.includes(tag)) list.push(tag);
    if (!on) {
      state.tags[side] = list.filter((t) => t !== tag);
      state.pins = state.pins.filter((p) => !(p.side === side && p.tag === tag));
    }
    renderChips(); saveDraft(); render();
  }

  // ----- tag palette: type to filter --------------------------------------------

  let palette = null;  // {side, input, active, pin: {x, y} | null}
  function openPalette(side, pin) {
    const input = $("tag-input-" + side);
    palette = {side: side, input: input, active: 0, pin: pin || null};
    input.placeholder = pin ? "pin a tag at " + Math.round(pin.x * 100) + " %, " + Math.round(pin.y * 100) + " %…" : "type to tag " + NAMES[side] + "…";
    input.value = "";
    input.focus();
    fillPalette();
  }
  function closePalette(refocus) {
    if (!palette) return;
    const input = palette.input;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    input.placeholder = "type to tag " + NAMES[palette.side] + "…";
    input.value = "";
    palette = null;
    $("palette").hidden = true;
    if (refocus) $("instruction").focus({preventScroll: true});
  }
  // Best first: the label starts with the text, then a word of it does, then it contains it.
  function matches() {
    const q = palette.input.value.trim().toLowerCase();
    const rank = (slug) => {
      const label = tagLabel(slug).toLowerCase();
      if (!q || label.startsWith(q)) return 0;
      if (label.split(/[^a-z0-9]+/).some((w) => w.startsWith(q)) || slug.split("_").some((w) => w.startsWith(q))) return 1;
      return label.includes(q) || slug.includes(q) ? 2 : 3;
    };
    return Object.keys(current.tags || {}).map((slug, n) => [rank(slug), n, slug])
      .filter((r) => r[0] < 3).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map((r) => r[2]);
  }
  function fillPalette() {
    if (!palette || !current) return;
    const list = $("palette"), found = matches();
    palette.active = clamp(palette.active, 0, Math.max(found.length - 1, 0));
    list.textContent = "";
    found.forEach((slug, n) => {
      const li = document.createElement("li");
      li.id = "palette-" + slug;
      li.setAttribute("role", "option");
      const on = state.tags[palette.side].includes(slug);
      li.setAttribute("aria-selected", n === palette.active ? "true" : "false");
      li.dataset.tag = slug;
      li.className = (on ? "on" : "") + (n === palette.active ? " active" : "");
      li.textContent = (on ? "✓ " : "") + tagLabel(slug);
      list.appendChild(li);
    });
    const r = palette.input.getBoundingClientRect(), fr = form.getBoundingClientRect();
    list.style.left = (r.left - fr.left) + "px";
    list.style.bottom = (fr.bottom - r.top + 2) + "px";
    list.hidden = false;
    palette.input.setAttribute("aria-expanded", "true");
    if (found.length) palette.input.setAttribute("aria-activedescendant", "palette-" + found[palette.active]);
  }
  function choosePalette(slug) {
    if (!palette || !slug) return;
    const side = palette.side;
    if (palette.pin) {
      setTag(side, slug, true);
      state.pins.push({side: side, tag: slug, x: palette.pin.x, y: palette.pin.y});
      renderChips(); saveDraft(); render();
    } else {
      setTag(side, slug, !state.tags[side].includes(slug));
    }
    closePalette(true);
  }

  for (const input of form.querySelectorAll(".tag-input")) {
    input.addEventListener("focus", () => { if (!palette || palette.input !== input) openPalette(input.dataset.side); });
    input.addEventListener("input", () => { if (palette) { palette.active = 0; fillPalette(); } });
    input.addEventListener("blur", () => setTimeout(() => { if (palette && document.activeElement !== palette.input) closePalette(false); }, 150));
    input.addEventListener("keydown", (event) => {
      if (!palette) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        palette.active += event.key === "ArrowDown" ? 1 : -1; fillPalette(); event.preventDefault();
      } else if (event.key === "Enter" && !event.ctrlKey) {
        event.preventDefault(); choosePalette(matches()[palette.active]);
      } else if (event.key === "Escape") {
        event.preventDefault(); event.stopPropagation(); closePalette(true);
      }
    });
  }
  $("palette").addEventListener("mousedown", (event) => {
    const li = event.target.closest("li");
    if (li) { event.preventDefault(); choosePalette(li.dataset.tag); }
  });
  form.addEventListener("click", (event) => {
    const chip = event.target.closest(".chip");
    if (chip) setTag(chip.dataset.side, chip.dataset.tag, false);
  });

  function sideUnder(port) {
    if (port.name === "left" || port.name === "right") return port.name;
    const shown = layersShown();
    if (mode === "wipe" && !peek && pointer) return pointer.x < wipe * port.el.clientWidth ? "left" : "right";
    if (shown && shown.length === 1 && (shown[0] === "left" || shown[0] === "right")) return shown[0];
    return null;
  }
  function placePin(port, x, y) {
    const side = sideUnder(port);
    const g = geometry(port), nx = (x - g.tx) / g.rw, ny = (y - g.ty) / g.rh;
    setPin(false);
    if (!side || nx < 0 || ny < 0 || nx > 1 || ny > 1) { showError("Pins go on A or B, inside the image."); return; }
    openPalette(side, {x: Math.round(nx * 1e5) / 1e5, y: Math.round(ny * 1e5) / 1e5});
  }
  function setPin(on) { pinArmed = on; toggle($("pin"), on); viewer.classList.toggle("pinning", on); }

  // ----- criteria (i9's rubric) and marks ---------------------------------------

  function renderCriteria() {
    const box = $("criteria");
    box.textContent = "";
    const list = criteriaList();
    box.hidden = list.length === 0;
    for (const c of list) {
      const fs = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = (c.label || c.name) + (c.required ? " *" : "");
      fs.appendChild(legend);
      for (const [value, text] of [["left", "A"], ["same", "same"], ["right", "B"]]) {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "radio"; input.name = "criterion-" + c.name; input.value = value; input.dataset.name = c.name;
        label.appendChild(input); label.append(" " + text);
        fs.appendChild(label);
      }
      box.appendChild(fs);
    }
  }
  $("criteria").addEventListener("change", (event) => {
    const input = event.target;
    if (input.dataset.name) { state.criteria[input.dataset.name] = input.value; saveDraft(); }
  });

  // ----- loading pairs ----------------------------------------------------------

  function preload(url) {
    const img = new Image();
    img.src = url;
    return img.decode().catch(() => null);
  }

  async function loadNext(startedAt) {
    busy = true;
    $("submit").disabled = true;
    let response;
    for (let attempt = 0; ; attempt++) {
      try { response = await post(root.dataset.nextUrl); break; } catch (err) {
        $("instruction").textContent = "Network error while loading the next pair. Retrying…";
        await sleep(Math.min(500 * 2 ** attempt, 5000));
      }
    }
    if (response.status === 204) {
      busy = false;
      current = null;
      form.hidden = true; viewer.hidden = true;
      $("done").hidden = false;
      $("instruction").textContent = "All pairs are judged.";
      $("instruction").focus();
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      busy = false;
      $("instruction").textContent = data.error || ("Could not load a pair (" + response.status + ")");
      return;
    }
    const gotPair = performance.now();
    // The pair appears whole: the three pictures are decoded before the swap.
    await Promise.all(LAYERS.map((l) => preload(data[l].thumb_url)));
    root.dataset.timing = [startedAt === undefined ? 0 : gotPair - startedAt, performance.now() - gotPair].map((v) => v.toFixed(0)).join(",");
    sharpStart = startedAt || 0;
    show(data);
    busy = false;
    $("submit").disabled = false;
    if (startedAt !== undefined) {
      requestAnimationFrame(() => {
        root.dataset.lastSwitchMs = (performance.now() - startedAt).toFixed(1);
      });
    }
    if (!startedAt) prefetchDetail();
    refreshProgress();
    queueAhead();
  }

  // ----- the pair after this one, reserved and decoded while the expert works -------
  // Submit then shows it at once; the save and the request that opens it follow.
  let ahead = null;  // {data, ready}
  async function queueAhead() {
    const holder = current;
    if (!holder || (ahead && ahead.data.id !== holder.id)) return;
    let response;
    try { response = await post(root.dataset.nextUrl + "/ahead"); } catch (err) { return; }
    if (response.status !== 201 || current !== holder) return;
    const data = await response.json().catch(() => null);
    if (!data || data.id === holder.id) return;
    const entry = {data: data, ready: false};
    ahead = entry;
    await Promise.all(LAYERS.map((l) => preload(data[l].thumb_url)));
    entry.ready = true;
    // The fit view's sharper picture too, once the thumbnails are in hand.
    for (const l of LAYERS) if (data[l].preview_url !== data[l].thumb_url) preload(data[l].preview_url);
  }

  function show(data) {
    current = data;
    $("category").textContent = data.category;
    $("instruction").textContent = data.instruction;
    for (const port of Object.values(ports)) {
      for (const world of Object.values(port.worlds)) {
        const layer = world.layer;
        world.info = data[layer];
        for (const t of world.tiles.values()) t.remove();
        world.tiles.clear();
        world.level = -1;
        world.baseKind = "thumb";
        world.sharp = false;
        world.loadingBase = false;
        world.base.src = data[layer].thumb_url;
      }
    }
    $("unsure").hidden = !accepts("unsure");
    $("pin").hidden = !accepts("pins");
    $("unacceptable-left").hidden = !hasUnacceptable();
    $("unacceptable-right").hidden = !hasUnacceptable();
    renderCriteria();
    state = loadDraft(data.id);
    view.z = "fit"; view.cx = 0.5; view.cy = 0.5;
    peek = false;
    syncZoomButtons();
    setMode("side");
    applyState();
    renderNow();
    showError("");
    root.dataset.assignment = String(data.id);
    // Back to the top of the new pair, ready for the next key.
    window.scrollTo(0, 0);
    $("instruction").focus({preventScroll: true});
  }

  // While the expert looks and writes: fetch the 100 % tiles around the centre,
  // so zooming in is instant (and the server has the big image decoded).
  function prefetchDetail() {
    if (!current) return;
    for (const layer of LAYERS) {
      const info = current[layer];
      if (!info.tile_levels) continue;
      const T = info.tile_size, c = Math.floor(info.width / 2 / T), r = Math.floor(info.height / 2 / T);
      for (const [dc, dr] of [[0, 0], [-1, 0], [0, -1], [-1, -1]]) {
        if (c + dc >= 0 && r + dr >= 0) new Image().src = tileUrl(info, 0, c + dc, r + dr);
      }
    }
  }

  // ----- submitting ------------------------------------------------------------

  function body() {
    const out = {choice: state.choice, rationale: $("rationale").value.trim(), tags: {left: state.tags.left.slice(), right: state.tags.right.slice()}};
    if (accepts("unsure")) out.unsure = state.unsure;
    if (accepts("pins")) out.pins = state.pins.map((p) => ({side: p.side, tag: p.tag, x: p.x, y: p.y}));
    if (hasUnacceptable()) out.unacceptable = {left: state.unacceptable.left, right: state.unacceptable.right};
    if (criteriaList().length) {
      out.criteria = {};
      for (const c of criteriaList()) if (state.criteria[c.name]) out.criteria[c.name] = state.criteria[c.name];
    }
    return out;
  }

  // The same Idempotency-Key on every attempt: a retry after a lost answer
  // can never store a second judgment.
  async function sendWithRetry(url, payload, key) {
    let retried = false;
    for (let attempt = 0; attempt < 7; attempt++) {
      try {
        const response = await post(url, payload, {"Idempotency-Key": key});
        return {response: response, retried: retried};
      } catch (err) {
        retried = true;
        showError("Network trouble: retrying (" + (attempt + 1) + ")… nothing is lost.");
        await sleep(Math.min(300 * 2 ** attempt, 8000));
      }
    }
    return {response: null, retried: retried};
  }

  async function save(assignment, payload, key) {
    let {response, retried} = await sendWithRetry(assignment.submit_url, payload, key);
    if (response && response.status === 410 && assignment.renew_url) {
      // Expired while the expert wrote: renew when the pair is still valid.
      const renewed = await post(assignment.renew_url).catch(() => null);
      if (renewed && renewed.ok) ({response, retried} = await sendWithRetry(assignment.submit_url, payload, key));
    }
    return {response: response, retried: retried};
  }

  // The save of a pair already replaced on screen by the next one.
  async function afterSave(assignment, next, response, retried) {
    if (response && (response.ok || (response.status === 409 && retried))) {
      dropDraft(assignment.id);
      judgedHere++;
      root.dataset.saved = String(assignment.id);
    } else if (response && (response.status === 409 || response.status === 410)) {
      const data = await response.json().catch(() => ({}));
      dropDraft(assignment.id);
      showError("The previous pair could not be saved: " + (data.error || "it can no longer be judged") + ".");
    } else {
      // Nothing stored: back to that pair with its answer (the draft still holds it).
      const data = response ? await response.json().catch(() => ({})) : {};
      ahead = {data: next, ready: true};
      show(assignment);
      if (response) { state.key = uuid(); saveDraft(); }
      busy = false;
      $("submit").disabled = false;
      showError(response ? (data.error || ("Could not save (" + response.status + "). Press Submit again."))
        : "Could not reach the server. Your answer is kept here: press Submit again.");
      return;
    }
    // Open the pair on show (the server starts its clock now); another one if it was withdrawn.
    let opened = null;
    for (let attempt = 0; attempt < 7 && !opened; attempt++) {
      opened = await post(root.dataset.nextUrl).catch(() => null);
      if (!opened) await sleep(Math.min(300 * 2 ** attempt, 8000));
    }
    const data = opened && opened.status === 201 ? await opened.json().catch(() => null) : null;
    if (!data || data.id !== next.id || current !== next) { await loadNext(); return; }
    current = Object.assign(next, data);
    busy = false;
    $("submit").disabled = false;
    refreshProgress();
    queueAhead();
  }

  let judgedHere = 0;
  async function submit() {
    if (!current || busy) return;
    const started = performance.now();
    const need = minChars();
    const rationale = $("rationale").value.trim();
    if (!state.choice) { showError("Pick A better, B better, tie or both unacceptable (1 2 3 4)."); return; }
    if (rationale.length < need) {
      showError("Write a rationale of at least " + need + " characters (you have " + rationale.length + ").");
      $("rationale").focus();
      return;
    }
    for (const c of criteriaList()) {
      if (c.required && !state.criteria[c.name]) { showError("Answer “" + (c.label || c.name) + "”."); return; }
    }
    busy = true;
    $("submit").disabled = true;
    const assignment = current;
    const payload = body();
    const key = state.key;
    const next = ahead && ahead.ready && ahead.data.id !== assignment.id ? ahead.data : null;
    if (next) {
      // The next pair is already here, decoded: show it now, save behind it.
      ahead = null;
      sharpStart = started;
      show(next);
      root.dataset.timing = "0,0";
      requestAnimationFrame(() => { root.dataset.lastSwitchMs = (performance.now() - started).toFixed(1); });
    }
    let {response, retried} = await save(assignment, payload, key);
    if (next) { await afterSave(assignment, next, response, retried); return; }
    if (!response) {
      busy = false; $("submit").disabled = false;
      showError("Could not reach the server. Your answer is kept here: press Submit again.");
      return;
    }
    if (response.ok || (response.status === 409 && retried)) {
      dropDraft(assignment.id);
      judgedHere++;
      root.dataset.saved = String(assignment.id);
      showError("");
      await loadNext(started);
      return;
    }
    const data = await response.json().catch(() => ({}));
    busy = false;
    $("submit").disabled = false;
    if (response.status === 409 || response.status === 410) {
      dropDraft(assignment.id);
      showError((data.error || "This pair can no longer be judged") + ". Loading another pair…");
      setTimeout(() => loadNext(), 1500);
      return;
    }
    // Nothing was stored: the corrected answer is a new request with a new key.
    state.key = uuid();
    saveDraft();
    showError(data.error || ("Could not save (" + response.status + "). Press Submit again."));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });

  // ----- skip ------------------------------------------------------------------

  function openSkip() { if (current && !busy) { $("skip-dialog").showModal(); } }
  $("skip-open").addEventListener("click", openSkip);
  $("skip-cancel").addEventListener("click", () => $("skip-dialog").close());
  $("skip-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    let reason = $("skip-form").querySelector('input[name="skip-reason"]:checked').value;
    if (reason === "other") reason = $("skip-other").value.trim() || "other";
    $("skip-dialog").close();
    const assignment = current;
    busy = true;
    const response = await post(assignment.skip_url, {reason: reason}).catch(() => null);
    busy = false;
    if (response && (response.ok || response.status === 409 || response.status === 410)) {
      dropDraft(assignment.id);
      await loadNext(performance.now());
    } else {
      showError("Could not skip (" + (response ? response.status : "network") + "); try again.");
    }
  });

  // ----- progress and breaks -------------------------------------------------------

  async function refreshProgress() {
    const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
    try {
      const r = await fetch(root.dataset.progressUrl + "?since=" + encodeURIComponent(midnight.toISOString()), {credentials: "same-origin"});
      if (!r.ok) return;
      const p = await r.json();
      $("progress").textContent = "Today " + p.today_judgments + " judged · " + Math.round(p.today_seconds / 60) + " min · pool: you " +
        p.pool_judged_by_you + " of " + p.pool_pairs_for_you + " pairs";
    } catch (err) { /* progress is a nicety */ }
  }

  // Continuous work: reset by a pause of 5 minutes or more; kept across reloads.
  function activity() {
    const now = Date.now();
    const last = Number(localStorage.getItem("pairwise.lastActive") || 0);
    if (now - last > 5 * 60 * 1000) localStorage.setItem("pairwise.workStart", String(now));
    localStorage.setItem("pairwise.lastActive", String(now));
  }
  function checkBreak() {
    const start = Number(localStorage.getItem("pairwise.workStart") || Date.now());
    const dismissed = Number(localStorage.getItem("pairwise.breakDismissed") || 0);
    $("break").hidden = !(Date.now() - start > 45 * 60 * 1000 && dismissed < start);
  }
  $("break-dismiss").addEventListener("click", () => { localStorage.setItem("pairwise.breakDismissed", String(Date.now())); localStorage.setItem("pairwise.workStart", String(Date.now())); checkBreak(); });
  setInterval(checkBreak, 30000);
  document.addEventListener("pointerdown", activity);

  // ----- form events ------------------------------------------------------------

  form.addEventListener("change", (event) => {
    if (!state) return;
    if (event.target.name === "choice") { state.choice = event.target.value; saveDraft(); showError(""); }
  });
  $("rationale").addEventListener("input", () => { state.rationale = $("rationale").value; saveDraft(); updateCounter(); });
  $("unsure").addEventListener("click", () => { state.unsure = !state.unsure; toggle($("unsure"), state.unsure); saveDraft(); });
  for (const side of ["left", "right"]) {
    $("unacceptable-" + side).addEventListener("click", () => {
      state.unacceptable[side] = !state.unacceptable[side]; toggle($("unacceptable-" + side), state.unacceptable[side]); saveDraft();
    });
  }
  for (const b of document.querySelectorAll("button.zoom")) b.addEventListener("click", () => zoomTo(b.dataset.zoom === "fit" ? "fit" : Number(b.dataset.zoom)));
  for (const b of document.querySelectorAll("button.mode")) b.addEventListener("click", () => setMode(b.dataset.mode));
  $("bg").addEventListener("click", () => setBackground(bg + 1));
  $("loupe").addEventListener("click", () => { loupeOn = !loupeOn; toggle($("loupe"), loupeOn); if (!loupeOn) $("loupe-box").hidden = true; });
  $("pin").addEventListener("click", () => setPin(!pinArmed));
  $("fullscreen").addEventListener("click", toggleFullscreen);
  $("help-open").addEventListener("click", () => $("help").showModal());
  document.addEventListener("fullscreenchange", () => { toggle($("fullscreen"), !!document.fullscreenElement); render(); });
  window.addEventListener("resize", render);

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (root.requestFullscreen) root.requestFullscreen().catch(() => null);
  }

  function setChoice(value) {
    state.choice = value;
    $("choice-" + value).checked = true;
    saveDraft(); showError("");
  }

  // ----- keys -------------------------------------------------------------------

  document.addEventListener("keyup", (event) => { if (event.key === " ") setPeek(false); });
  document.addEventListener("keydown", (event) => {
    activity();
    if (document.querySelector("dialog[open]")) return;  // dialogs keep their own keys
    if (event.ctrlKey && event.key === "Enter") { event.preventDefault(); closePalette(false); submit(); return; }
    const t = event.target;
    const typing = t instanceof HTMLTextAreaElement || (t instanceof HTMLInputElement && t.type === "text");
    if (typing) {
      if (event.key === "Escape") { t.blur(); $("instruction").focus({preventScroll: true}); }
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey || !current) return;
    const key = event.key;
    // Toolbar buttons answer Enter; Space peeks everywhere but in the answer form.
    const onControl = (t instanceof HTMLButtonElement || t instanceof HTMLInputElement || t instanceof HTMLAnchorElement) &&
      !t.closest(".toolbar");
    let handled = true;
    if (event.shiftKey && (event.code === "Digit1" || event.code === "Digit2")) {
      const side = event.code === "Digit1" ? "left" : "right";
      if (hasUnacceptable()) $("unacceptable-" + side).click();
    }
    else if ({"1": 1, "2": 1, "3": 1, "4": 1}[key]) setChoice({"1": "left", "2": "right", "3": "tie", "4": "both_bad"}[key]);
    else if (key === "u" && accepts("unsure")) $("unsure").click();
    else if (key === "a" || key === "b") openPalette(key === "a" ? "left" : "right");
    else if (key === "r") $("rationale").focus();
    else if (key === "k") openSkip();
    else if (key === "?") $("help").showModal();
    else if (key === "F") toggleFullscreen();
    else if (key === "f") setMode("flip");
    else if (key === "o") setMode("source");
    else if (key === "s") setMode("side");
    else if (key === "w") setMode("wipe");
    else if (key === "d") setMode("diff");
    else if (key === " " && !onControl) { if (!event.repeat) setPeek(true); }
    else if (key === "[" || key === "]") { wipe = clamp(wipe + (key === "]" ? 0.05 : -0.05), 0, 1); renderNow(); }
    else if (key === "+" || key === "=") stepZoom(1);
    else if (key === "-" || key === "_") stepZoom(-1);
    else if (key === "0") zoomTo("fit");
    else if (key === "z") zoomTo({fit: 1, 1: 2, 2: 4}[String(view.z)] || "fit");
    else if (key === "g") setBackground(bg + 1);
    else if (key === "l") $("loupe").click();
    else if (key === "p" && accepts("pins")) {
      if (pointer && sideUnder(pointer.port)) placePin(pointer.port, pointer.x, pointer.y);
      else setPin(!pinArmed);
    }
    else if (key === "Escape") { if (pinArmed) setPin(false); else if (mode !== "side") setMode("side"); }
    else if (key.startsWith("Arrow") && !onControl) {
      const step = event.shiftKey ? 200 : 50;
      pan({ArrowLeft: step, ArrowRight: -step}[key] || 0, {ArrowUp: step, ArrowDown: -step}[key] || 0);
    }
    else handled = false;
    if (handled) event.preventDefault();
  });

  setBackground(Number(localStorage.getItem("pairwise.bg") || 0));
  activity();
  checkBreak();
  loadNext();
})();
