/* Pipeline board: move a deal by drag and drop or with the arrow keys.
   Both only choose the stage in the card's own "Move to…" form and submit it (htmx); the
   server answers with the re-drawn columns and a message, so the board always shows what the
   server decided — a refused move leaves the card where it was, with the reason. */
(function () {
  "use strict";

  let pending = null; // the move waiting for its answer: {deal, stage}
  let dragged = null;

  function columns() {
    return Array.from(document.querySelectorAll(".board-column[data-stage]"));
  }

  function say(text, tone) {
    const region = document.getElementById("board-status");
    if (!region) return;
    region.innerHTML = "";
    const p = document.createElement("p");
    p.className = "message" + (tone ? " message-" + tone : "");
    p.textContent = text;
    region.appendChild(p);
  }

  // A drop (or arrow) onto a lost stage first asks why, in #lost-dialog; cancelling it (button
  // or Esc) leaves the card where it was.
  function askLostReason(card, done) {
    const dialog = document.getElementById("lost-dialog");
    if (!dialog || typeof dialog.showModal !== "function") { done(""); return; }
    const field = dialog.querySelector("#lost-dialog-reason");
    const name = card.querySelector("a.deal-name");
    dialog.querySelector("[data-lost-deal]").textContent = name ? name.textContent : "";
    field.value = "";
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "ok" && field.value.trim()) done(field.value.trim());
      else card.focus();
    });
    dialog.showModal();
    field.focus();
  }

  function move(card, stageId, reason) {
    const form = card.querySelector("form[data-move-form]");
    if (!form || !stageId || String(stageId) === card.dataset.stage || pending) return;
    const column = document.getElementById("stage-" + stageId);
    const reasonField = form.querySelector("[name=lost_reason]");
    if (column && column.classList.contains("is-lost") && reasonField && reason === undefined) {
      askLostReason(card, function (given) { move(card, stageId, given); });
      return;
    }
    if (reasonField && reason !== undefined) reasonField.value = reason;
    form.querySelector("select[name=stage]").value = String(stageId);
    pending = { deal: card.dataset.deal, stage: String(stageId) };
    card.classList.add("is-moving");
    card.setAttribute("aria-busy", "true");
    form.requestSubmit();
  }

  function finish(failed) {
    if (!pending) return;
    const done = pending;
    pending = null;
    const card = document.getElementById("deal-" + done.deal);
    if (card) {
      card.classList.remove("is-moving");
      card.removeAttribute("aria-busy");
    }
    if (failed) say(failed, "error");
    const target = card || document.getElementById("stage-" + done.stage + "-title");
    if (target) {
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "nearest", inline: "nearest" });
      // a card still shown when the answer comes may be gone once the columns are redrawn
      // (a won deal leaves the board): its stage's title takes the focus then
      keep = { id: target.id, fallback: "stage-" + done.stage + "-title",
               until: Date.now() + 3500 };
      if (!card) titleAgain(target.id);
      // the answer may be applied after this (the card seen here then leaves the board):
      // look again once it is, giving a lost focus back
      [30, 120, 400, 1200, 3000].forEach(function (ms) { setTimeout(restoreFocus, ms); });
    }
  }

  // A deal that left the board (won, lost) leaves no card to hold the focus: its stage's
  // title takes it, and keeps it while the columns finish redrawing, whatever the machine's
  // speed (the board, not the user, held the focus: nothing else is taken from them).
  function titleAgain(id) {
    const put = function () {
      const title = document.getElementById(id);
      const active = document.activeElement;
      if (!title || active === title) return;
      const free = !active || active === document.body || !active.isConnected ||
                   (active.closest && active.closest(".board-column") && !active.matches("input, select, textarea"));
      if (free) title.focus({ preventScroll: true });
    };
    [30, 120, 400, 1200].forEach(function (ms) { setTimeout(put, ms); });
  }

  // The columns may be drawn again just after the answer (out-of-band swaps settling, a
  // refresh of the board): the element that had the focus is then replaced and the focus
  // falls to the page. For a moment after a move, give it back to the same element, and
  // only when nothing else holds it (the user's own focus always wins).
  let keep = null;
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
    if (!card.classList || !card.classList.contains("deal-card")) return;
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const all = columns();
    const index = all.indexOf(card.closest(".board-column"));
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      e.preventDefault();
      const target = all[index + (e.key === "ArrowRight" ? 1 : -1)];
      if (target) move(card, target.dataset.stage);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const cards = Array.from(card.closest(".board-column").querySelectorAll(".deal-card"));
      const next = cards[cards.indexOf(card) + (e.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus();
    } else if (e.key === "Enter") {
      const link = card.querySelector("a.deal-name");
      if (link) { e.preventDefault(); link.click(); }
    }
  });

  // Drag and drop (HTML5).
  function clearOver() {
    document.querySelectorAll(".board-column.is-over").forEach((c) => c.classList.remove("is-over"));
  }
  document.addEventListener("dragstart", function (e) {
    const card = e.target.closest && e.target.closest(".deal-card");
    if (!card || pending) return;
    dragged = card;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.dataset.deal);
    card.classList.add("is-dragging");
  });
  document.addEventListener("dragover", function (e) {
    const column = dragged && e.target.closest && e.target.closest(".board-column");
    if (!column) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    if (!column.classList.contains("is-over")) { clearOver(); column.classList.add("is-over"); }
  });
  document.addEventListener("drop", function (e) {
    const column = dragged && e.target.closest && e.target.closest(".board-column");
    if (!column) return;
    e.preventDefault();
    const card = dragged;
    dragged = null;
    clearOver();
    card.classList.remove("is-dragging");
    move(card, column.dataset.stage);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    clearOver();
  });

  function isMove(detail) {
    const elt = detail && detail.requestConfig && detail.requestConfig.elt;
    return !!(elt && elt.matches && elt.matches("form[data-move-form]"));
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
      pending = { deal: form.dataset.deal, stage: form.querySelector("select[name=stage]").value };
    }
    const status = e.detail.xhr ? e.detail.xhr.status : 0;
    const board = document.querySelector("[data-board]");
    finish(status === 0 || status >= 500
      ? (board && board.dataset.failText) || "The deal could not be moved." : "");
  });
})();
