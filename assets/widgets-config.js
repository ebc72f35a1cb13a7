// Tell require.js where the vendored widget manager lives, so that the fonts and chunks it
// loads by relative URL come from _static/widgets/ (loaded between require.js and embed-amd.js).
(function () {
  var here = document.currentScript.src;
  var staticDir = here.slice(0, here.lastIndexOf("/") + 1);
  // Each bundle loads its fonts from the folder of its module's URL: map every one of them
  // onto the folder that holds the fonts.
  require.config({ paths: {
    "@jupyter-widgets/html-manager/dist": staticDir + "widgets",
    "@jupyter-widgets/html-manager": staticDir + "widgets/html-manager",
    "@jupyter-widgets/controls": staticDir + "widgets/controls",
    "@jupyter-widgets/base": staticDir + "widgets/base",
  } });
})();
