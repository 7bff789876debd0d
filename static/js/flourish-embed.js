/* Flourish's search box on your page: makes each Flourish frame as tall as what it shows.
   Optional: without it, the frame keeps the height in its height attribute.
   Only messages from the Flourish site this script came from are read, and only a height. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.addEventListener || !window.URL) { return; }
  var flourish = new URL(script.src, window.location.href).origin;
  var MIN = 150, MAX = 10000;

  window.addEventListener("message", function (event) {
    if (event.origin !== flourish) { return; }
    var data = event.data;
    if (!data || data.type !== "flourish-embed:height") { return; }
    var height = Math.ceil(Number(data.height));
    if (!isFinite(height)) { return; }
    var frames = document.getElementsByTagName("iframe");
    for (var i = 0; i < frames.length; i++) {
      if (frames[i].contentWindow === event.source) {
        frames[i].style.height = Math.min(MAX, Math.max(MIN, height)) + "px";
      }
    }
  });
})();
