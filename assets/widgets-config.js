// Tell require.js where the vendored widget manager lives, so that the fonts and chunks it
// loads by relative URL come from _static/widgets/ (loaded between require.js and embed-amd.js).
(function () {
  var here = document.currentScript.src;
  var staticDir = here.slice(0, here.lastIndexOf("/") + 1);
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": staticDir + "widgets" } });
})();
