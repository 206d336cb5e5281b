/* Comptoir — the few behaviours HTML and htmx do not give: keyboard shortcuts, the phone menu,
   row navigation in lists, search results by keyboard. No build step, no dependency. */
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    const tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function rows() {
    return Array.from(document.querySelectorAll("table.data tbody tr[data-href]"));
  }

  function moveRow(step) {
    const all = rows();
    if (!all.length) return;
    let i = all.findIndex((r) => r.classList.contains("is-current"));
    if (i >= 0) all[i].classList.remove("is-current");
    i = Math.max(0, Math.min(all.length - 1, i + step));
    all[i].classList.add("is-current");
    const link = all[i].querySelector("a");
    (link || all[i]).focus();
    all[i].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (e) {
    const search = document.querySelector("[data-search-input]");
    if ((e.key === "k" && (e.ctrlKey || e.metaKey)) || (e.key === "/" && !typing(e.target))) {
      if (search) { e.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (e.key === "Escape") {
      const popup = document.getElementById("search-popup");
      if (popup && popup.innerHTML.trim()) { popup.innerHTML = ""; if (search) search.blur(); return; }
      document.querySelectorAll("details.menu[open]").forEach((d) => d.removeAttribute("open"));
      const form = typing(e.target) && e.target.closest("form[data-cancel-url]");
      if (form) { window.location.href = form.dataset.cancelUrl; }
      return;
    }
    if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "n") {
      const primary = document.querySelector("[data-shortcut-new-here]") ||
        document.querySelector("[data-shortcut-new]");
      if (primary) { e.preventDefault(); window.location.href = primary.href; }
    } else if (e.key === "j") { moveRow(1); }
    else if (e.key === "k") { moveRow(-1); }
    else if (e.key === "Enter") {
      const current = document.querySelector("table.data tbody tr.is-current[data-href]");
      if (current) window.location.href = current.dataset.href;
    }
  });

  // Search results: arrow keys from the box into the results.
  document.addEventListener("keydown", function (e) {
    if (!e.target.matches("[data-search-input], #search-popup a")) return;
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const links = Array.from(document.querySelectorAll("#search-popup a"));
    if (!links.length) return;
    e.preventDefault();
    let i = links.indexOf(document.activeElement);
    i = e.key === "ArrowDown" ? Math.min(links.length - 1, i + 1) : i - 1;
    if (i < 0) { document.querySelector("[data-search-input]").focus(); } else { links[i].focus(); }
  });

  // A click anywhere on a row opens its record (the first cell keeps a real link).
  document.addEventListener("click", function (e) {
    const row = e.target.closest("tr[data-href]");
    if (row && !e.target.closest("a, button, input, label, select")) {
      window.location.href = row.dataset.href;
    }
    const toggle = e.target.closest("[data-menu-toggle]");
    if (toggle) {
      const sidebar = document.getElementById("sidebar");
      const open = sidebar.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    if (!e.target.closest(".global-search")) {
      const popup = document.getElementById("search-popup");
      if (popup) popup.innerHTML = "";
    }
    document.querySelectorAll("details.menu[open]").forEach((d) => {
      if (!d.contains(e.target)) d.removeAttribute("open");
    });
  });

  // Lists: selecting rows shows the bulk actions; the header box selects the whole page.
  document.addEventListener("change", function (e) {
    if (!e.target.matches("[data-select-all], [data-row-select]")) return;
    if (e.target.matches("[data-select-all]")) {
      document.querySelectorAll("[data-row-select]").forEach((box) => { box.checked = e.target.checked; });
    }
    const any = document.querySelector("[data-row-select]:checked") !== null;
    const bar = document.getElementById("bulk-form");
    if (bar) bar.classList.toggle("has-selection", any);
  });

  // After an htmx swap of a form with errors, focus the first invalid field.
  document.addEventListener("htmx:afterSwap", function (e) {
    const bad = e.target.querySelector("[aria-invalid='true']");
    if (bad && e.target.tagName !== "BODY") bad.focus();
  });
  document.addEventListener("DOMContentLoaded", function () {
    const bad = document.querySelector("main [aria-invalid='true']");
    if (bad) bad.focus();
  });

  // Placeholders that would be cut on a narrow screen: the short one is in the HTML, the long
  // one (data-placeholder-wide) replaces it where it fits.
  const wide = window.matchMedia("(min-width: 900px)");
  function placeholders() {
    document.querySelectorAll("[data-placeholder-wide]").forEach(function (input) {
      if (!input.dataset.placeholderShort) input.dataset.placeholderShort = input.placeholder;
      input.placeholder = wide.matches ? input.dataset.placeholderWide : input.dataset.placeholderShort;
    });
  }
  placeholders();
  if (wide.addEventListener) wide.addEventListener("change", placeholders);
})();
