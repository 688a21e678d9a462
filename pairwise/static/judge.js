// The judge page: asks the API for a pair, shows it, posts the answer.
// Plain JS, no framework: the page is small and must stay fast on a
// retoucher's workstation.
(function () {
  "use strict";
  const root = document.getElementById("judge");
  if (!root) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const form = $("judgment-form");
  const viewer = $("viewer");
  let current = null;        // the assignment being judged
  let zoom = "fit";          // "fit" | "1" | "2"
  let flipped = false;       // flip mode: one panel showing A or B
  let showing = "left";      // in flip mode, which side is visible
  let judged = 0;
  let busy = false;

  function api(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
  }

  function minChars() { return current ? current.rationale_min_chars : 0; }

  function updateCounter() {
    const n = $("rationale").value.trim().length;
    const need = Math.max(minChars(), 1);
    $("counter").textContent = n + " / " + need + " characters";
    $("counter").classList.toggle("ok", n >= need);
  }

  function setImages() {
    if (!current) return;
    const pick = (img) => (zoom === "fit" ? img.preview_url : img.url);
    $("img-source").src = pick(current.source);
    $("img-source").dataset.w = current.source.width;
    const leftImg = flipped ? current[showing] : current.left;
    $("img-left").src = pick(leftImg);
    $("img-left").dataset.w = leftImg.width;
    $("img-right").src = pick(current.right);
    $("img-right").dataset.w = current.right.width;
    $("caption-left").textContent = flipped ? (showing === "left" ? "A (flip: F)" : "B (flip: F)") : "A";
    $("panel-left").classList.toggle("showing-b", flipped && showing === "right");
    for (const img of viewer.querySelectorAll("img")) {
      img.style.width = zoom === "fit" ? "" : (Number(img.dataset.w) * Number(zoom) / window.devicePixelRatio) + "px";
    }
  }

  function setZoom(z) {
    zoom = z;
    viewer.classList.toggle("zoomed", z !== "fit");
    viewer.classList.toggle("zoom-2", z === "2");
    for (const b of document.querySelectorAll("button.zoom")) b.classList.toggle("active", b.dataset.zoom === z);
    setImages();
  }

  function setFlip(on) {
    flipped = on;
    showing = "left";
    viewer.classList.toggle("flip", on);
    $("flip").classList.toggle("active", on);
    setImages();
  }

  function flip() {
    if (!flipped) { setFlip(true); return; }
    showing = showing === "left" ? "right" : "left";
    setImages();
  }

  // Zoomed panels scroll together so A, B and the source show the same spot.
  let syncing = false;
  for (const frame of viewer.querySelectorAll(".frame")) {
    frame.addEventListener("scroll", () => {
      if (syncing) return;
      syncing = true;
      for (const other of viewer.querySelectorAll(".frame")) {
        if (other !== frame) { other.scrollLeft = frame.scrollLeft; other.scrollTop = frame.scrollTop; }
      }
      syncing = false;
    });
  }

  function showError(message) { $("error").textContent = message || ""; }

  function resetForm() {
    form.reset();
    showError("");
    updateCounter();
  }

  async function loadNext() {
    busy = true;
    $("submit").disabled = true;
    let response;
    try {
      response = await api(root.dataset.nextUrl);
    } catch (err) {
      busy = false;
      $("instruction").textContent = "Network error while loading the next pair. Retrying…";
      setTimeout(loadNext, 3000);
      return;
    }
    busy = false;
    if (response.status === 204) {
      current = null;
      form.hidden = true;
      viewer.hidden = true;
      $("done").hidden = false;
      $("instruction").textContent = "All pairs are judged.";
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      $("instruction").textContent = data.error || ("Could not load a pair (" + response.status + ")");
      return;
    }
    current = data;
    $("category").textContent = data.category;
    $("instruction").textContent = data.instruction;
    $("progress").textContent = judged ? judged + " judged this session" : "";
    resetForm();
    setFlip(false);
    setImages();
    $("submit").disabled = false;
    root.dataset.assignment = String(data.id);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current || busy) return;
    const choice = form.querySelector('input[name="choice"]:checked');
    const rationale = $("rationale").value.trim();
    const need = Math.max(minChars(), 1);
    if (!choice) { showError("Pick A better, B better, tie or both unacceptable."); return; }
    if (rationale.length < need) {
      showError("Write a rationale of at least " + need + " characters (you have " + rationale.length + ").");
      $("rationale").focus();
      return;
    }
    const tags = (side) => Array.from(form.querySelectorAll('input[name="tags-' + side + '"]:checked')).map((i) => i.value);
    busy = true;
    $("submit").disabled = true;
    let response;
    try {
      response = await api(current.submit_url, {choice: choice.value, rationale: rationale,
                                                tags: {left: tags("left"), right: tags("right")}});
    } catch (err) {
      // Network trouble: keep everything the expert typed and let them retry.
      busy = false;
      $("submit").disabled = false;
      showError("Network error, nothing was lost: press Submit again.");
      return;
    }
    busy = false;
    if (response.status === 201 || response.status === 200) {  // 200: a retry found it already stored
      judged += 1;
      await loadNext();
      return;
    }
    const data = await response.json().catch(() => ({}));
    $("submit").disabled = false;
    if (response.status === 409 || response.status === 410) {
      showError((data.error || "This pair can no longer be judged") + ". Loading another pair…");
      setTimeout(loadNext, 1500);
      return;
    }
    showError(data.error || ("Could not save (" + response.status + "). Press Submit again."));
  });

  $("rationale").addEventListener("input", updateCounter);
  for (const b of document.querySelectorAll("button.zoom")) b.addEventListener("click", () => setZoom(b.dataset.zoom));
  $("flip").addEventListener("click", () => (flipped ? setFlip(false) : setFlip(true)));
  $("panel-left").addEventListener("click", () => { if (flipped) flip(); });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey && event.key === "Enter") { form.requestSubmit(); return; }
    const typing = event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement && event.target.type === "text";
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const choices = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"};
    if (choices[event.key]) { $("choice-" + choices[event.key]).checked = true; showError(""); }
    else if (event.key === "f" || event.key === "F") flip();
    else if (event.key === "z" || event.key === "Z") setZoom({fit: "1", "1": "2", "2": "fit"}[zoom]);
    else if (event.key === "0") setZoom("fit");
  });

  updateCounter();
  loadNext();
})();
