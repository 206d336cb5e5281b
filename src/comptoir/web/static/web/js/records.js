/* Record pages: the inline quick-log form closes on Cancel or Esc without leaving the page.
   Without JavaScript, Cancel is a link back to the record. */
(function () {
  "use strict";

  function close(form) {
    const slot = form.closest("#quicklog");
    if (!slot) return false;
    slot.innerHTML = "";
    const opener = document.querySelector("[data-quicklog-open]");
    if (opener) opener.focus();
    return true;
  }

  document.addEventListener("click", function (e) {
    const cancel = e.target.closest("[data-quicklog-cancel]");
    if (cancel && close(cancel.closest("form"))) e.preventDefault();
  });

  // Capture phase: handled before the app-wide Esc (which follows data-cancel-url).
  window.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    const form = e.target.closest && e.target.closest("#quicklog form[data-quicklog]");
    if (form && close(form)) { e.preventDefault(); e.stopPropagation(); }
  }, true);
})();

/* Record pages: inline edit of a key fact (record_edit.py). The pencil (a link to the full
   edit form without JavaScript) brings the field in place; Esc or Cancel puts the value back,
   Enter in a one-line field saves (the form's own submit). The focus follows: into the field
   when it opens, back to its pencil when it closes. */
(function () {
  "use strict";

  function focusFacts() {
    const facts = document.getElementById("facts");
    if (!facts) return;
    const editor = facts.querySelector("[data-fact-editor]");
    if (editor) {
      const field = editor.querySelector("[aria-invalid='true']") ||
        editor.querySelector("input:not([type='hidden']), select, textarea");
      if (field) {
        field.focus();
        if (field.select && field.type !== "checkbox" && field.type !== "date" && field.type !== "datetime-local") {
          try { field.select(); } catch (err) { /* some input types cannot select */ }
        }
      }
      return;
    }
    const key = facts.dataset.focusFact;
    if (!key) return;
    const pencil = facts.querySelector("[data-fact-edit='" + CSS.escape(key) + "']");
    if (pencil) pencil.focus();
  }

  document.addEventListener("htmx:afterSettle", function (e) {
    const target = e.detail && e.detail.target;
    if (target && (target.id === "facts" || !target.isConnected)) focusFacts();
  });

  // Capture phase: before the app-wide Esc (which follows data-cancel-url) and the picker's.
  window.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    const editor = e.target.closest && e.target.closest("[data-fact-editor]");
    if (!editor) return;
    const options = editor.querySelector("[data-picker-options]");
    if (options && options.innerHTML.trim()) return;  // the picker closes its suggestions first
    const cancel = editor.querySelector("[data-fact-cancel]");
    if (cancel) { e.preventDefault(); e.stopPropagation(); cancel.click(); }
  }, true);
})();
