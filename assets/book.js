// The web book's own script, small on purpose (explorers carry their own few lines; see
// companion/explorer.py, and playgrounds are static snapshots drawn at build time; see
// _ext/book_pages.py).
// - Phone navigation: sphinx-book-theme 1.3 draws its own sidebar toggles (☰ and Contents) in
//   the article header, but pydata-sphinx-theme 0.17 binds its handlers to the FIRST
//   .primary-toggle / .secondary-toggle in the page, the ones in its own top bar, which the
//   book hides (pydata-sphinx-theme issue 2451). Clicks on the other toggles are forwarded to
//   those, so both themes' handlers run as they were meant to (a dialog on a phone, a
//   collapsed sidebar on a wide screen).
// - A visible "Open in Colab" link under each chapter's title (in the page's language).
// - The same page in the other edition (English / 中文), in the header: the build names it in
//   <link rel="alternate" hreflang> (_ext/book_pages.py) when that edition has the page.
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
    p.innerHTML = chinese() ?
      '<a href="' + colab + '" target="_blank" rel="noopener">在 Colab 中打开</a>' +
      "，即可运行本章并使用其中的试验场（无需安装）。" :
      '<a href="' + colab + '" target="_blank" rel="noopener">Open in Colab</a> ' +
      "to run this chapter and use its playgrounds (no installation needed).";
    title.insertAdjacentElement("afterend", p);
  }

  function chinese() {
    return /^zh/.test(document.documentElement.lang || "");
  }

  function otherEdition() {
    var link = document.querySelector('link[rel="alternate"][hreflang]');
    if (!link || document.querySelector(".book-edition")) return;
    var a = document.createElement("a");
    a.className = "btn btn-sm book-edition";
    a.href = link.getAttribute("href");
    a.hreflang = a.lang = link.getAttribute("hreflang");
    a.textContent = link.title;
    if (chinese()) {            // "English" is too wide for a phone's header: "EN" there
      a.textContent = "";
      [["book-edition-long", link.title], ["book-edition-short", "EN"]].forEach(function (p) {
        var span = document.createElement("span");
        span.className = p[0];
        span.textContent = p[1];
        a.appendChild(span);
      });
    }
    a.title = chinese() ? "本页的英文版" : "本页的中文版 (this page in Chinese)";
    var header = document.querySelector(".article-header-buttons");
    if (header) {
      header.insertAdjacentElement("afterbegin", a);
    } else {
      var title = document.querySelector(".bd-article h1") || document.querySelector("h1");
      if (title) title.insertAdjacentElement("beforebegin", a);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    forwardToggles();
    colabBadge();
    otherEdition();
  });
})();
