// Leaderboard page: changing a fit option reloads the page with it.
// (No inline handlers: the page must work under a strict Content-Security-Policy.)
"use strict";
document.querySelectorAll("#fit-options .autosubmit").forEach(function (control) {
  control.addEventListener("change", function () { control.form.submit(); });
});
