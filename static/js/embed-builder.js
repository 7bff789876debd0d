/* The widget builder: a button that copies the code to paste. The code can be selected and
   copied by hand without it. */
(function () {
  "use strict";
  var snippet = document.querySelector("[data-embed-snippet]");
  if (!snippet) { return; }
  snippet.addEventListener("focus", function () { snippet.select(); });
  if (!navigator.clipboard) { return; }
  var status = document.createElement("p");
  status.className = "hint";
  status.setAttribute("role", "status");
  var copy = document.createElement("button");
  copy.type = "button";
  copy.className = "button button--secondary";
  copy.textContent = "Copy the code";
  copy.addEventListener("click", function () {
    navigator.clipboard.writeText(snippet.value).then(function () {
      status.textContent = "Copied. Paste it into your page where the box should go.";
    }, function () {
      status.textContent = "Your browser did not let us copy it: select the code and copy it yourself.";
    });
  });
  snippet.insertAdjacentElement("afterend", status);
  snippet.insertAdjacentElement("afterend", copy);
})();
