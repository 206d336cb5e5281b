/* Lists: the count of selected rows in the bulk bar (said to screen readers), and "x" to tick
   the current row (j/k move, as in app.js). The selection itself is plain checkboxes in a
   form: everything works without this file. */
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    const tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function refresh() {
    const boxes = Array.from(document.querySelectorAll("[data-row-select]"));
    const ticked = boxes.filter((b) => b.checked).length;
    const all = document.querySelector("[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    const bar = document.getElementById("bulk-form");
    if (bar) bar.classList.toggle("has-selection", ticked > 0);
    const count = document.querySelector("[data-selected-count]");
    if (count) {
      count.textContent = ticked === 0 ? "" :
        ticked === 1 ? count.dataset.one : count.dataset.many.replace("{n}", String(ticked));
    }
  }

  // app.js ticks the boxes on "select all"; this runs after it (same event, later listener)
  document.addEventListener("change", function (e) {
    if (e.target.matches("[data-select-all], [data-row-select]")) refresh();
  });
  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
  window.addEventListener("pageshow", refresh); // back button: the browser restores ticks

  document.addEventListener("keydown", function (e) {
    if (e.key !== "x" || typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    const row = document.querySelector("table.data tbody tr.is-current");
    const box = row && row.querySelector("[data-row-select]");
    if (!box) return;
    e.preventDefault();
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();
