// Minutes console: one timer per agenda item, measured against its planned minutes. The
// elapsed time is kept in localStorage per meeting and item, so a reload does not reset it.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  document.querySelectorAll(".agenda-note").forEach(function (box) {
    var key = "confsvc-timer-" + box.dataset.meeting + "-" + box.dataset.item;
    var planned = parseInt(box.dataset.planned, 10) * 60;
    var display = box.querySelector(".timer");
    var toggle = box.querySelector(".timer-toggle");
    var state = JSON.parse(localStorage.getItem(key) || '{"elapsed":0,"since":null}');
    function seconds() { return state.elapsed + (state.since ? Math.floor((Date.now() - state.since) / 1000) : 0); }
    function show() {
      var s = seconds();
      display.textContent = pad(Math.floor(s / 60)) + ":" + pad(s % 60) + (planned ? " / " + pad(planned / 60) + ":00" : "");
      display.classList.toggle("over", planned > 0 && s > planned);
      toggle.textContent = state.since ? toggle.dataset.stop : toggle.dataset.start;
      toggle.setAttribute("aria-pressed", state.since ? "true" : "false");
    }
    toggle.addEventListener("click", function () {
      if (state.since) { state.elapsed = seconds(); state.since = null; } else { state.since = Date.now(); }
      localStorage.setItem(key, JSON.stringify(state)); show();
    });
    show();
    setInterval(show, 1000);
  });
})();

// Attendance: show the detail field (minutes late, time left, proxy name) of the chosen status.
(function () {
  "use strict";
  document.querySelectorAll("select.attendance-status").forEach(function (select) {
    var cell = select.closest("td");
    function show() {
      cell.querySelectorAll(".att-detail").forEach(function (detail) {
        detail.hidden = detail.dataset.when !== select.value;
      });
    }
    select.addEventListener("change", show);
    show();
  });
})();

// Autosave: the save-status fragment lists warnings and errors per form field. Put each
// one next to its field, and clear the notes of fields that no longer have one.
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var status = event.detail && event.detail.target;
    if (!status || status.id !== "save-status") { return; }
    document.querySelectorAll("[data-field-note]").forEach(function (note) {
      note.textContent = "";
      note.removeAttribute("role");
    });
    status.querySelectorAll("li[data-field]").forEach(function (entry) {
      var note = document.getElementById("hint-" + entry.dataset.field);
      if (note) { note.textContent = entry.textContent; }
    });
  });
})();
