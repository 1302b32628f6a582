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
