// Behaviour every page may use, declared in the markup instead of inline
// handlers or style attributes, which the Content-Security-Policy
// (default-src 'self') forbids:
//   data-autosubmit  on a form control: a change submits its form
//   data-heat="0.7"  on a table cell: a red-to-green background for a rate in [0, 1]
//   data-bg, data-fg on a table cell: its background and text colour
(function () {
  "use strict";
  function init() {
    for (const control of document.querySelectorAll("[data-autosubmit]")) {
      control.addEventListener("change", () => control.form && control.form.submit());
    }
    // data-bg / data-fg: colours chosen by the server (e.g. the colour-blind-safe heat map)
    for (const cell of document.querySelectorAll("[data-bg]")) {
      cell.style.background = cell.dataset.bg;
      if (cell.dataset.fg) cell.style.color = cell.dataset.fg;
    }
    for (const cell of document.querySelectorAll("[data-heat]")) {
      const v = Number(cell.dataset.heat);
      if (!Number.isFinite(v)) continue;
      cell.style.background = "rgba(" + (200 - Math.trunc(v * 160)) + ", " + (80 + Math.trunc(v * 120)) + ", 90, .55)";
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
