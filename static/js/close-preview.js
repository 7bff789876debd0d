/* Close form (referrals/close.html): the message the referrer will get follows the outcome and
   the note as they are chosen. The server composed the message (referrals.message_back) and
   composes it again when the form is sent; this only fills in the two parts the trainer is
   choosing. Without this script the "Update the message" button asks the server. */
(function () {
  "use strict";
  var form = document.querySelector("[data-close-form]");
  var card = form && form.querySelector("[data-preview-card]");
  if (!card) { return; }
  var outcome = card.querySelector("[data-preview=outcome]");
  var note = card.querySelector("[data-preview=note]");
  var noteLabel = card.querySelector("[data-preview=note-label]");
  var box = form.querySelector("textarea[name=note]");
  function update() {
    var checked = form.querySelector("input[name=outcome]:checked");
    if (outcome) {
      if (checked) {
        var label = form.querySelector("label[for='" + checked.id + "']");
        var text = label ? label.textContent.trim() : checked.value;
        if (checked.value === card.getAttribute("data-snomed-outcome")) {
          text += card.getAttribute("data-snomed-text");
        }
        outcome.textContent = text;
      } else {
        outcome.textContent = "Not chosen yet";
      }
    }
    if (note && box) {
      var value = box.value.trim();
      note.innerText = value;
      note.hidden = !value;
      if (noteLabel) { noteLabel.hidden = !value; }
    }
  }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  var hint = form.querySelector("[data-preview-hint]");
  if (hint) { hint.textContent = "The message changes as you choose the outcome and write the note."; }
  var button = form.querySelector("[data-preview-button]");
  if (button) { button.hidden = true; }
  update();
})();
