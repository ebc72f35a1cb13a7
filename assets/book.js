// The web book's honesty about its widgets. Controls that need a running Python kernel (a
// playground's sliders and Train button) are a snapshot of the build here: grey them out and
// say how to make them live. Precomputed explorers (class book-explorer) work without a kernel
// and stay live. Also shows a visible "Open in Colab" link under each chapter's title.
(function () {
  "use strict";
  var CONTROLS = "input, select, button, textarea, .noUi-target";

  function colabLink() {
    var a = document.querySelector('a[href*="colab.research.google.com"]');
    return a ? a.href : null;
  }

  function note() {
    var div = document.createElement("div");
    div.className = "book-frozen-note";
    var colab = colabLink();
    div.innerHTML = "Snapshot from the build: these controls need a running Python kernel. " +
      (colab ? '<a href="' + colab + '" target="_blank" rel="noopener">Open this chapter in Colab</a>'
             : "Open this chapter in Colab") + " or in JupyterLab to use them.";
    return div;
  }

  function freeze() {
    document.querySelectorAll(".cell_output " + CONTROLS.split(", ").join(", .cell_output "))
      .forEach(function (el) {
        if (el.closest(".book-explorer")) return;
        var root = el.closest(".jupyter-widgets.widget-container, .widget-vbox, .widget-box") ||
                   el.closest(".jupyter-widgets");
        while (root && root.parentElement && root.parentElement.closest(".jupyter-widgets") &&
               !root.parentElement.closest(".book-explorer")) {
          root = root.parentElement.closest(".jupyter-widgets");  // the outermost widget
        }
        el.setAttribute("disabled", "");
        el.setAttribute("tabindex", "-1");
        el.setAttribute("aria-disabled", "true");
        if (root && !root.classList.contains("book-frozen")) {
          root.classList.add("book-frozen");
          root.insertBefore(note(), root.firstChild);
        }
      });
  }

  function colabBadge() {
    var colab = colabLink();
    var title = document.querySelector(".bd-article h1") || document.querySelector("article h1");
    if (!colab || !title || document.querySelector(".book-colab")) return;
    var p = document.createElement("p");
    p.className = "book-colab";
    p.innerHTML = '<a href="' + colab + '" target="_blank" rel="noopener">Open in Colab</a> ' +
      "to run this chapter and use its widgets (no installation needed).";
    title.insertAdjacentElement("afterend", p);
  }

  var pending = null;
  var observer = new MutationObserver(function () {
    clearTimeout(pending);
    pending = setTimeout(freeze, 50);
  });
  document.addEventListener("DOMContentLoaded", function () {
    colabBadge();
    freeze();
    observer.observe(document.body, { childList: true, subtree: true });
  });
})();
