// The web book's own script, small on purpose (explorers carry their own few lines; see
// companion/explorer.py, and playgrounds are static snapshots drawn at build time; see
// _ext/book_pages.py).
// - Phone navigation: sphinx-book-theme 1.3 draws its own sidebar toggles (☰ and Contents) in
//   the article header, but pydata-sphinx-theme 0.17 binds its handlers to the FIRST
//   .primary-toggle / .secondary-toggle in the page, the ones in its own top bar, which the
//   book hides (pydata-sphinx-theme issue 2451). Clicks on the other toggles are forwarded to
//   those, so both themes' handlers run as they were meant to (a dialog on a phone, a
//   collapsed sidebar on a wide screen).
// - A visible "Open in Colab" link under each chapter's title.
(function () {
  "use strict";

  function forwardToggles() {
    ["primary-toggle", "secondary-toggle"].forEach(function (name) {
      var all = document.querySelectorAll("." + name);
      var bound = all[0];
      Array.prototype.slice.call(all, 1).forEach(function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          event.stopImmediatePropagation();
          button.blur();
          bound.click();
        }, true);
      });
    });
  }

  function colabLink() {
    var a = document.querySelector('a[href*="colab.research.google.com"]');
    return a ? a.href : null;
  }

  function colabBadge() {
    var colab = colabLink();
    var title = document.querySelector(".bd-article h1") || document.querySelector("article h1");
    if (!colab || !title || document.querySelector(".book-colab")) return;
    var p = document.createElement("p");
    p.className = "book-colab";
    p.innerHTML = '<a href="' + colab + '" target="_blank" rel="noopener">Open in Colab</a> ' +
      "to run this chapter and use its playgrounds (no installation needed).";
    title.insertAdjacentElement("afterend", p);
  }

  document.addEventListener("DOMContentLoaded", function () {
    forwardToggles();
    colabBadge();
  });
})();
