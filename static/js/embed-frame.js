/* Flourish's search box, inside a frame: tells the page around it how tall it is, for the
   optional flourish-embed.js there. The box works without this (the frame keeps its height). */
(function () {
  "use strict";
  if (window.parent === window || !window.parent.postMessage) { return; }
  var last = 0;
  function tell() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height === last) { return; }
    last = height;
    // Any page may frame the box, so any may hear its height; nothing else is sent.
    window.parent.postMessage({ type: "flourish-embed:height", height: height }, "*");
  }
  if (window.ResizeObserver) { new ResizeObserver(tell).observe(document.body); }
  window.addEventListener("load", tell);
  tell();
})();
