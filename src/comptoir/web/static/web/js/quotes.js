/* Quote editor: the few things htmx does not do by itself.
   - After the lines are re-drawn, focus what the server asks for (a new line's quantity…)
     and keep what was typed while the answer was on its way.
   - In the catalogue search, Enter adds the first suggestion and arrows move in the list. */
(function () {
  "use strict";

  function linesRequest(detail) {
    const target = detail && detail.target;
    return !!(target && target.id === "quote-lines");
  }

  let typedWhileWaiting = null;

  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!linesRequest(e.detail)) return;
    const active = document.activeElement;
    typedWhileWaiting = null;
    if (active && active.id && active.closest("#quote-lines") && active.tagName === "INPUT") {
      const sent = e.detail.requestConfig && e.detail.requestConfig.parameters;
      const index = Array.from(document.getElementsByName(active.name)).indexOf(active);
      const values = sent && typeof sent.getAll === "function" ? sent.getAll(active.name) : null;
      if (values && values[index] !== undefined && values[index] !== active.value) {
        typedWhileWaiting = { id: active.id, value: active.value };
      }
    }
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    if (!linesRequest(e.detail)) return;
    const lines = document.getElementById("quote-lines");
    if (!lines) return;
    if (typedWhileWaiting) {
      const field = document.getElementById(typedWhileWaiting.id);
      if (field && field.value !== typedWhileWaiting.value) {
        field.value = typedWhileWaiting.value;
        field.focus();
        field.dispatchEvent(new Event("change", { bubbles: true }));
      }
      typedWhileWaiting = null;
      return;
    }
    const wanted = lines.dataset.focus && document.getElementById(lines.dataset.focus);
    if (wanted) {
      wanted.focus();
      if (wanted.select) wanted.select();
    }
  });

  // A product was added: empty the search box for the next one.
  document.addEventListener("htmx:afterRequest", function (e) {
    const elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (elt && elt.name === "add_product" && e.detail.successful) {
      const box = document.getElementById("product-q");
      if (box) box.value = "";
    }
  });

  document.addEventListener("keydown", function (e) {
    const box = e.target.closest && e.target.closest("[data-product-search]");
    const inList = e.target.closest && e.target.closest("#product-suggestions");
    if (!box && !inList) return;
    const items = Array.from(document.querySelectorAll("#product-suggestions button"));
    if (box && e.key === "Enter") {
      e.preventDefault();  // the form's default button saves the quote
      if (items.length) items[0].click();
      else if (window.htmx) window.htmx.trigger(box, "search");
      return;
    }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    if (!items.length) return;
    e.preventDefault();
    let i = items.indexOf(document.activeElement);
    i = e.key === "ArrowDown" ? Math.min(items.length - 1, i + 1) : i - 1;
    if (i < 0) document.getElementById("product-q").focus();
    else items[i].focus();
  });
})();
