/* Comptoir — the light/dark choice of this browser (user menu: Light / Dark / System).
   Loaded in <head> without "defer" so the theme is on <html> before the first paint (no
   flash of the wrong colours); the Content-Security-Policy allows no inline script.
   "System" removes the attribute: app.css then follows prefers-color-scheme. */
(function () {
  "use strict";
  var KEY = "comptoir-theme";
  var root = document.documentElement;

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch (e) {  // storage refused (private mode, policy): follow the system
      return "system";
    }
  }

  function show(choice) {
    var buttons = document.querySelectorAll("[data-theme-choice]");
    for (var i = 0; i < buttons.length; i++) {
      var on = buttons[i].getAttribute("data-theme-choice") === choice;
      buttons[i].setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  function apply(choice) {
    if (choice === "light" || choice === "dark") {
      root.setAttribute("data-theme", choice);
    } else {
      root.removeAttribute("data-theme");
    }
    show(choice);
  }

  apply(stored());

  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-theme-choice]") : null;
    if (!button) return;
    var choice = button.getAttribute("data-theme-choice");
    try {
      if (choice === "system") window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, choice);
    } catch (err) { /* applied to this page all the same */ }
    apply(choice);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var group = document.querySelector("[data-theme-switch]");
    if (group) group.hidden = false;  // offered only where it can work
    show(stored());
  });

  // Another tab changed it: follow.
  window.addEventListener("storage", function (e) {
    if (e.key === KEY) apply(stored());
  });
})();
