/* Calendar: reschedule an activity by dragging it onto another day or hour, or with its
   "Move" form (the keyboard way). Both only fill that form and submit it (htmx): the server
   decides, and answers with the calendar redrawn and a message — a refused move leaves the
   item where it was, with the reason. Also: the feed link's "Copy" button. */
(function () {
  "use strict";

  let dragged = null;
  let pending = null; // the id of the activity whose move awaits its answer

  function say(text) {
    const region = document.getElementById("calendar-status");
    if (!region) return;
    region.innerHTML = "";
    const p = document.createElement("p");
    p.className = "message message-error";
    p.textContent = text;
    region.appendChild(p);
  }

  function move(item, slot) {
    const form = item.querySelector("form[data-move-form]");
    if (!form || pending) return;
    const date = slot.dataset.date;
    const time = slot.dataset.time;
    const dateField = form.querySelector("[name=move_date]");
    const timeField = form.querySelector("[name=move_time]");
    const sameDay = dateField.value === date;
    const sameTime = !time || timeField.value.slice(0, 2) === time.slice(0, 2) ||
                     (time === "00:00" && !timeField.value);
    if (sameDay && sameTime) return;
    dateField.value = date;
    if (time) timeField.value = time;
    pending = item.dataset.activity;
    item.classList.add("is-moving");
    item.setAttribute("aria-busy", "true");
    form.requestSubmit();
  }

  function clearOver() {
    document.querySelectorAll(".cal-slot.is-over").forEach((c) => c.classList.remove("is-over"));
  }
  document.addEventListener("dragstart", function (e) {
    const item = e.target.closest && e.target.closest(".cal-item[draggable=true]");
    if (!item || pending) return;
    dragged = item;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", item.dataset.activity);
    item.classList.add("is-dragging");
  });
  document.addEventListener("dragover", function (e) {
    const slot = dragged && e.target.closest && e.target.closest(".cal-slot");
    if (!slot) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    if (!slot.classList.contains("is-over")) { clearOver(); slot.classList.add("is-over"); }
  });
  document.addEventListener("drop", function (e) {
    const slot = dragged && e.target.closest && e.target.closest(".cal-slot");
    if (!slot) return;
    e.preventDefault();
    const item = dragged;
    dragged = null;
    clearOver();
    item.classList.remove("is-dragging");
    move(item, slot);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    clearOver();
  });

  // Enter on a focused item opens it (the item itself is focusable to be dragged).
  document.addEventListener("keydown", function (e) {
    const item = e.target;
    if (e.key !== "Enter" || !item.classList || !item.classList.contains("cal-item")) return;
    const link = item.querySelector("a.cal-name");
    if (link) { e.preventDefault(); link.click(); }
  });

  function isMove(detail) {
    const elt = detail && detail.requestConfig && detail.requestConfig.elt;
    return !!(elt && elt.matches && elt.matches("form[data-move-form]"));
  }
  // A refusal (4xx) carries the calendar as it is and the reason: let htmx apply both.
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
    const id = pending || form.dataset.activity;
    pending = null;
    const status = e.detail.xhr ? e.detail.xhr.status : 0;
    if (status === 0 || status >= 500) {
      const cal = document.querySelector("[data-calendar]");
      say((cal && cal.dataset.failText) || "The activity could not be moved.");
      const item = document.getElementById("g-act-" + id);
      if (item) { item.classList.remove("is-moving"); item.removeAttribute("aria-busy"); }
      return;
    }
    // the redrawn calendar: give the focus back to the moved item, where it now is
    setTimeout(function () {
      const item = document.getElementById("g-act-" + id) || document.getElementById("l-act-" + id);
      if (item && item.offsetParent !== null) item.focus({ preventScroll: false });
    }, 50);
  });

  // The feed link: copy it.
  document.addEventListener("click", function (e) {
    const button = e.target.closest && e.target.closest("[data-copy]");
    if (!button) return;
    const field = document.querySelector(button.dataset.copy);
    if (!field) return;
    field.select();
    const done = function () { button.textContent = button.dataset.copiedText || "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy"); done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
