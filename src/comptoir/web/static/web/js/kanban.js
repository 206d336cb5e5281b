/* Leads and cases boards: move a card to another status by drag and drop or with the arrow
   keys. The same approach as the deals board (board.js), kept in its own file so the deals
   board's hard-won focus handling stays untouched: both moves only choose the status in the
   card's own "Move to…" form and submit it (htmx); the server answers with the re-drawn
   columns and a message, so the board always shows what the server decided — a refused move
   leaves the card where it was, with the reason. A column that takes no drop (a lead is
   converted through the conversion, not by a move) says why, without asking the server. */
(function () {
  "use strict";

  let pending = null; // the move waiting for its answer: {card, status}
  let dragged = null;
  let keep = null;

  function columns() {
    return Array.from(document.querySelectorAll(".kanban-column[data-status]"));
  }

  function board() {
    return document.querySelector("[data-kanban]");
  }

  function say(text, tone) {
    const region = document.getElementById("kanban-status");
    if (!region) return;
    region.innerHTML = "";
    const p = document.createElement("p");
    p.className = "message" + (tone ? " message-" + tone : "");
    p.textContent = text;
    region.appendChild(p);
  }

  function move(card, status) {
    if (!status || status === card.dataset.status || pending) return;
    const column = document.getElementById("col-" + status);
    if (column && column.dataset.refuse) {  // the card stays, and the focus with it
      say(column.dataset.refuse, "warning");
      card.focus();
      return;
    }
    const form = card.querySelector("form[data-move-form]");
    if (!form) {
      const b = board();
      say((b && b.dataset.readonlyText) || "", "warning");
      return;
    }
    form.querySelector("select[name=status]").value = status;
    pending = { card: card.dataset.card, status: status };
    card.classList.add("is-moving");
    card.setAttribute("aria-busy", "true");
    form.requestSubmit();
  }

  function finish(failed) {
    if (!pending) return;
    const done = pending;
    pending = null;
    const card = document.getElementById("card-" + done.card);
    if (card) {
      card.classList.remove("is-moving");
      card.removeAttribute("aria-busy");
    }
    if (failed) say(failed, "error");
    const target = card || document.getElementById("col-" + done.status + "-title");
    if (target) {
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "nearest", inline: "nearest" });
      // a card still shown when the answer comes may be gone once the columns are redrawn
      // (a closed case leaves the board): its column's title takes the focus then
      keep = { id: target.id, fallback: "col-" + done.status + "-title",
               until: Date.now() + 3500 };
      if (!card) titleAgain(target.id);
      [30, 120, 400, 1200, 3000].forEach(function (ms) { setTimeout(restoreFocus, ms); });
    }
  }

  // A card that left the board leaves nothing to hold the focus: its column's title takes
  // it, and keeps it while the columns finish redrawing, whatever the machine's speed.
  function titleAgain(id) {
    const put = function () {
      const title = document.getElementById(id);
      const active = document.activeElement;
      if (!title || active === title) return;
      const free = !active || active === document.body || !active.isConnected ||
                   (active.closest && active.closest(".kanban-column") && !active.matches("input, select, textarea"));
      if (free) title.focus({ preventScroll: true });
    };
    [30, 120, 400, 1200].forEach(function (ms) { setTimeout(put, ms); });
  }

  // The columns may be drawn again just after the answer: the element that had the focus is
  // then replaced and the focus falls to the page. For a moment after a move, give it back to
  // the same element, and only when nothing else holds it (the user's own focus always wins).
  function restoreFocus() {
    if (!keep) return;
    if (Date.now() > keep.until) { keep = null; return; }
    const active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;
    const target = document.getElementById(keep.id) || document.getElementById(keep.fallback);
    if (target) target.focus({ preventScroll: true });
  }
  document.addEventListener("htmx:afterSettle", restoreFocus);
  document.addEventListener("htmx:afterSwap", restoreFocus);
  document.addEventListener("focusout", function () { setTimeout(restoreFocus, 0); });

  // Keyboard: arrows on a focused card.
  document.addEventListener("keydown", function (e) {
    const card = e.target;
    if (!card.classList || !card.classList.contains("kanban-card")) return;
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const all = columns();
    const index = all.indexOf(card.closest(".kanban-column"));
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      e.preventDefault();
      const target = all[index + (e.key === "ArrowRight" ? 1 : -1)];
      if (target) move(card, target.dataset.status);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const cards = Array.from(card.closest(".kanban-column").querySelectorAll(".kanban-card"));
      const next = cards[cards.indexOf(card) + (e.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus();
    } else if (e.key === "Enter") {
      const link = card.querySelector("a.deal-name");
      if (link) { e.preventDefault(); link.click(); }
    }
  });

  // Drag and drop (HTML5).
  function clearOver() {
    document.querySelectorAll(".kanban-column.is-over").forEach((c) => c.classList.remove("is-over"));
  }
  document.addEventListener("dragstart", function (e) {
    const card = e.target.closest && e.target.closest(".kanban-card");
    if (!card || pending || card.getAttribute("draggable") !== "true") return;
    dragged = card;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.card);
    card.classList.add("is-dragging");
  });
  document.addEventListener("dragover", function (e) {
    const column = dragged && e.target.closest && e.target.closest(".kanban-column");
    if (!column) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = column.dataset.refuse ? "none" : "move";
    if (!column.classList.contains("is-over")) { clearOver(); column.classList.add("is-over"); }
  });
  document.addEventListener("drop", function (e) {
    const column = dragged && e.target.closest && e.target.closest(".kanban-column");
    if (!column) return;
    e.preventDefault();
    const card = dragged;
    dragged = null;
    clearOver();
    card.classList.remove("is-dragging");
    move(card, column.dataset.status);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    clearOver();
  });

  function isMove(detail) {
    const elt = detail && detail.requestConfig && detail.requestConfig.elt;
    return !!(elt && elt.matches && elt.matches("form[data-move-form][data-card]"));
  }

  // A refusal (4xx) still carries the re-drawn columns and the reason: let htmx apply them.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (!isMove(e.detail)) return;
    const status = e.detail.xhr.status;
    if (status >= 400 && status < 500) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (!isMove(e.detail)) return;
    const form = e.detail.requestConfig.elt;
    if (!pending) {  // the form itself was used ("Move to…" and its button)
      pending = { card: form.dataset.card, status: form.querySelector("select[name=status]").value };
    }
    const status = e.detail.xhr ? e.detail.xhr.status : 0;
    const b = board();
    finish(status === 0 || status >= 500
      ? (b && b.dataset.failText) || "The card could not be moved." : "");
  });
})();
