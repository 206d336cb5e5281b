/* Comptoir — forms: choosing a record in a picker (mouse or keyboard), and keeping the focus
   where the user is when a field is checked on change. No dependency besides htmx. */
(function () {
  "use strict";

  function pickerOf(el) { return el && el.closest("[data-picker]"); }
  function options(picker) { return Array.from(picker.querySelectorAll("[data-pick]")); }
  function close(picker) { const box = picker.querySelector("[data-picker-options]"); if (box) box.innerHTML = ""; }

  function choose(button) {
    const picker = pickerOf(button);
    const text = picker.querySelector("[data-picker-text]");
    const value = picker.querySelector("[data-picker-value]");
    value.value = button.dataset.pick;
    text.value = button.dataset.label;
    close(picker);
    text.focus();
    if (value.matches("[data-dedupe]")) checkDuplicates();
  }

  // The duplicate check of a create form. The timer lives here, not on the input: the field
  // re-checked on change (Tab) is swapped out, and a delay held by the old input would be
  // dropped with it. It fires DEDUPE_DELAY ms after the last keystroke, and at once on change;
  // the panel (hx-trigger="dedupe-check") sends the fields and swaps only itself.
  const DEDUPE_DELAY = 400;
  let dedupeTimer = null;
  let dedupeSent = null;

  function dedupeValues() {
    return Array.from(document.querySelectorAll("[data-dedupe][name]"))
      .map(function (el) { return el.name + "=" + el.value; }).join("&");
  }

  function checkDuplicates() {
    clearTimeout(dedupeTimer);
    dedupeTimer = null;
    const panel = document.querySelector("[data-dedupe-panel]");
    const values = dedupeValues();
    if (!panel || !window.htmx || values === dedupeSent) return;  // unchanged: no new request
    dedupeSent = values;
    window.htmx.trigger(panel, "dedupe-check");
  }

  function isDedupeField(el) {
    return el.matches && el.matches("[data-dedupe]") && !el.matches("[data-picker-text]");
  }

  document.addEventListener("input", function (e) {
    if (!isDedupeField(e.target)) return;
    clearTimeout(dedupeTimer);
    dedupeTimer = setTimeout(checkDuplicates, DEDUPE_DELAY);
  });

  document.addEventListener("change", function (e) {
    if (isDedupeField(e.target)) checkDuplicates();
  });

  document.addEventListener("DOMContentLoaded", function () {
    dedupeSent = dedupeValues();  // the page as served already shows its candidates
  });

  document.addEventListener("click", function (e) {
    const button = e.target.closest("[data-pick]");
    if (button) { e.preventDefault(); choose(button); return; }
    document.querySelectorAll("[data-picker]").forEach(function (picker) {
      if (!picker.contains(e.target)) close(picker);
    });
  });

  // A picker that depends on another field (a contact of the chosen account) offers its choices
  // as soon as it is focused empty. Its htmx trigger listens for "picker-open": an htmx trigger
  // filter (focus[!this.value]) would need eval, which the Content-Security-Policy forbids.
  document.addEventListener("focusin", function (e) {
    const el = e.target;
    if (el.matches && el.matches("[data-picker-text][data-picker-depends]") && !el.value) {
      el.dispatchEvent(new CustomEvent("picker-open"));
    }
  });

  // Typing a new text forgets the chosen record; the server resolves the text if needed.
  document.addEventListener("input", function (e) {
    if (!e.target.matches("[data-picker-text]")) return;
    const value = pickerOf(e.target).querySelector("[data-picker-value]");
    value.value = "";
  });

  document.addEventListener("keydown", function (e) {
    const picker = pickerOf(e.target);
    if (!picker) return;
    const all = options(picker);
    const text = picker.querySelector("[data-picker-text]");
    if (e.key === "Escape" && all.length) {
      // close the suggestions only; a second Esc leaves the form (app.js)
      e.preventDefault(); e.stopPropagation(); close(picker); text.focus();
    } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && all.length) {
      e.preventDefault();
      let i = all.indexOf(document.activeElement);
      i = e.key === "ArrowDown" ? Math.min(all.length - 1, i + 1) : i - 1;
      if (i < 0) text.focus(); else all[i].focus();
    } else if (e.key === "Enter" && e.target.matches("[data-picker-text]") && all.length === 1) {
      e.preventDefault(); choose(all[0]);  // Enter takes the only suggestion
    }
  }, true);  // before app.js, whose Esc leaves the form

  // A field checked on change comes back with its message; the user has moved on, so the
  // focus must not jump back to it (app.js focuses invalid fields after other swaps).
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target.matches && e.target.matches("[data-live-field], [data-picker-options], .duplicate-slot")) {
      e.stopPropagation();
    }
  }, true);
})();
