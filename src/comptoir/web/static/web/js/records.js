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
