/* Flourish: small progressive enhancements. Every page works without this file.
   No inline handlers (the Content Security Policy forbids them): everything is bound here. */
(function () {
  "use strict";

  // An error summary takes focus, so screen readers announce it and keyboards start there.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    // A link in the summary puts the cursor in the field it names, not just scrolls to it.
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (field) {
        event.preventDefault();
        field.focus();
        field.scrollIntoView({ block: "center" });
      }
    });
  }

  // A polite live region for "Added to your shortlist" and similar.
  var live = document.createElement("div");
  live.className = "visually-hidden";
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");
  document.body.appendChild(live);
  function announce(text) {
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  // Add to / remove from the shortlist without reloading the page.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-shortlist-form]") || !window.fetch) { return; }
    event.preventDefault();
    var button = form.querySelector("[data-shortlist-button]");
    var name = button.getAttribute("data-name");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (data) {
      var added = data.in_shortlist;
      form.action = added ? form.getAttribute("data-remove-url") : form.getAttribute("data-add-url");
      button.querySelector("[data-label]").textContent = added ? "Remove from shortlist" : "Add to shortlist";
      button.classList.toggle("is-added", added);
      document.querySelectorAll("[data-shortlist-count]").forEach(function (el) { el.textContent = data.count; });
      announce(added ? name + " added to your shortlist. " + data.count + " on your list."
                     : name + " removed from your shortlist. " + data.count + " on your list.");
    }).catch(function () {
      form.submit();  // fall back to the ordinary form post
    }).finally(function () {
      button.disabled = false;
    });
  });

  // The print sheet gets a Print button; the share box selects its link when focused.
  var controls = document.querySelector("[data-print-controls]");
  if (controls && window.print) {
    var print = document.createElement("button");
    print.type = "button";
    print.className = "button";
    print.textContent = "Print this page";
    print.addEventListener("click", function () { window.print(); });
    controls.appendChild(print);
  }
  var share = document.querySelector("[data-share-input]");
  if (share) {
    share.addEventListener("focus", function () { share.select(); });
    if (navigator.clipboard) {
      var copy = document.createElement("button");
      copy.type = "button";
      copy.className = "button button--secondary button--small";
      copy.textContent = "Copy link";
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(share.value).then(function () { announce("Link copied."); });
      });
      share.insertAdjacentElement("afterend", copy);
    }
  }
  // Character count (NHS.UK): the hint under a long text box counts down as the person types,
  // and says how many characters too many once past the limit (the server refuses it then,
  // keeping the text). The count is announced politely, a moment after typing stops.
  document.querySelectorAll(".character-count[data-maxlength]").forEach(function (group) {
    var box = group.querySelector("textarea");
    var message = group.querySelector(".character-count__message");
    var limit = parseInt(group.getAttribute("data-maxlength"), 10);
    if (!box || !message || !limit) { return; }
    var timer = null;
    function update(speak) {
      var left = limit - box.value.length;
      var over = left < 0;
      var n = Math.abs(left);
      var text = over
        ? "You have " + n + (n === 1 ? " character" : " characters") + " too many"
        : "You have " + n + (n === 1 ? " character" : " characters") + " remaining";
      message.textContent = text;
      message.classList.toggle("character-count__message--error", over);
      box.classList.toggle("textarea--error", over || group.classList.contains("form-group--error"));
      if (speak) {
        window.clearTimeout(timer);
        timer = window.setTimeout(function () { announce(text); }, 1000);
      }
    }
    box.addEventListener("input", function () { update(true); });
    update(false);
  });
})();

/* Follow-up page (referrals/follow_up.html): the SWEMWBS total and metric score worked out as
   the seven item boxes are filled in. The conversion table comes from the page
   (data-swemwbs-metric, from referrals.measures), so no number is written twice; without this
   script the server works them out after saving (or after a refusal). */
(function () {
  "use strict";
  var box = document.querySelector("[data-swemwbs]");
  if (!box) { return; }
  var table = JSON.parse(box.getAttribute("data-swemwbs-metric") || "{}");
  var items = box.querySelectorAll("[data-swemwbs-item]");
  var result = box.querySelector("[data-swemwbs-result]");
  if (!items.length || !result) { return; }
  function update() {
    var total = 0;
    var complete = true;
    items.forEach(function (input) {
      var text = input.value.trim();
      var score = /^[1-5]$/.test(text) ? parseInt(text, 10) : NaN;
      if (isNaN(score)) { complete = false; } else { total += score; }
    });
    result.textContent = complete
      ? "Total " + total + " (7 to 35), metric score " + table[String(total)] + "."
      : "The total and metric score show when all seven items are between 1 and 5.";
  }
  items.forEach(function (input) { input.addEventListener("input", update); });
  update();
})();
