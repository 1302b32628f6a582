// Small helpers for the pages: copy buttons, attendee chips from the directory search, and
// filling the chair/secretary fields. Everything else is plain forms and htmx.
(function () {
  "use strict";

  function chipsChanged() {
    document.body.dispatchEvent(new CustomEvent("chips-changed", { bubbles: true }));
  }

  // Keep the chosen bridge when the day view is redrawn after a change of time.
  var bridgeChoice = null;
  document.addEventListener("change", function (event) {
    if (event.target.name === "bridge_id") { bridgeChoice = event.target.value; }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "bridge-day" || bridgeChoice === null) { return; }
    var radio = event.target.querySelector('input[name="bridge_id"][value="' + CSS.escape(bridgeChoice) + '"]');
    if (radio) { radio.checked = true; }
  });

  // A form with bad input returns 400, 409, 413 or 415 with its section and the errors.
  // htmx does not swap a 4xx response by default, so this setting makes it swap them.
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4[0-9][0-9]", swap: true, error: false },
      { code: "...", swap: false, error: true }
    ];
  }

  // A read-only link field selects its whole text when focused, ready to copy.
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[data-select-on-focus]")) { event.target.select(); }
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) { return; }

    if (target.dataset.copy !== undefined) {
      var text = target.dataset.copy;
      var done = function () { target.dataset.copied = "true"; target.setAttribute("aria-live", "polite"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        var area = document.createElement("textarea");
        area.value = text; document.body.appendChild(area); area.select();
        try { document.execCommand("copy"); } catch (e) { /* the text stays selectable */ }
        area.remove(); done();
      }
      return;
    }

    if (target.dataset.addPerson) {
      var chips = document.getElementById("attendee-chips");
      var email = target.dataset.addPerson;
      if (!chips || chips.querySelector('input[value="' + CSS.escape(email) + '"]')) { return; }
      var item = document.createElement("li");
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = "attendee"; hidden.value = email;
      var remove = document.createElement("button");
      remove.type = "button"; remove.className = "remove"; remove.textContent = "×";
      remove.setAttribute("aria-label", target.dataset.removeLabel || "Remove");
      item.appendChild(hidden);
      item.appendChild(document.createTextNode(target.dataset.name + " <" + email + "> "));
      item.appendChild(remove);
      chips.appendChild(item);
      chipsChanged();
      return;
    }

    if (target.classList.contains("remove") && target.closest("#attendee-chips")) {
      target.closest("li").remove();
      chipsChanged();
      return;
    }

    if (target.dataset.setField) {
      var field = document.getElementById(target.dataset.setField);
      if (field) { field.value = target.dataset.value; field.focus(); }
    }
  });
})();
