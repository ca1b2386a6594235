/*!
 * republish widget: the "Republish This Story" button and dialog.
 *
 * Install with one tag (see docs/widget.md):
 *   <script src="https://REPUBLISH-HOST/widget.js" data-publisher="SLUG" async></script>
 * Optional: data-story="ID" (else the page's <link rel="canonical">, else location.href),
 *           data-target="CSS selector" (where the button goes; default: after this tag).
 * A no-JS link <a data-republish href="...">Republish This Story</a> already on the page
 * is upgraded in place: with JavaScript it opens the dialog, without it it goes to the
 * standalone republish page.
 *
 * Privacy: requests go only to this script's own origin, with no cookies (credentials
 * "omit"); nothing is stored in the browser; no globals are defined.
 * Safety: strings from the API are set as textContent, attribute values or textarea
 * values, never parsed as HTML into the host page.
 */
(function () {
  "use strict";

  // Captured now: currentScript is only set while this script runs (async included).
  // The selector is a fallback for the rare loader that runs scripts another way.
  var script =
    document.currentScript ||
    document.querySelector('script[data-publisher][src*="widget.js"]:not([data-rp-seen])');
  if (!script || !script.src) {
    return;
  }
  script.setAttribute("data-rp-seen", "");
  var publisher = script.getAttribute("data-publisher") || "";
  if (!publisher) {
    return;
  }
  // Base URL: origin plus path prefix of our own src, so a mount under /republish/ works.
  var base = new URL(".", script.src).href;
  var storyId = script.getAttribute("data-story") || "";
  var targetSelector = script.getAttribute("data-target") || "";
  var uid = "rp-" + Math.random().toString(36).slice(2, 8);

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    var key;
    for (key in attrs || {}) {
      if (Object.prototype.hasOwnProperty.call(attrs, key) && attrs[key] != null) {
        node.setAttribute(key, attrs[key]);
      }
    }
    (children || []).forEach(function (child) {
      if (child == null) {
        return;
      }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function pageUrl() {
    var link = document.querySelector('link[rel~="canonical"][href]');
    if (link && link.href) {
      return link.href;
    }
    return location.href.split("#")[0];
  }

  function apiUrl() {
    var url = new URL("api/v1/widget", base);
    url.searchParams.set("publisher", publisher);
    if (storyId) {
      url.searchParams.set("story", storyId);
    } else {
      url.searchParams.set("url", pageUrl());
    }
    return url.href;
  }

  function loadStyles() {
    if (document.getElementById("rp-widget-css")) {
      return;
    }
    var link = el("link", {
      id: "rp-widget-css",
      rel: "stylesheet",
      href: new URL("widget.css", base).href,
    });
    (document.head || document.documentElement).appendChild(link);
  }

  function domReady() {
    return new Promise(function (resolve) {
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", resolve, { once: true });
      } else {
        resolve();
      }
    });
  }

  // Where the widget goes: the no-JS link if there is one (inside data-target when
  // given), else inside data-target, else right after this script tag.
  function findSpot() {
    var target = targetSelector ? document.querySelector(targetSelector) : null;
    var scope = target || document;
    var link = null;
    if (target && target.matches("a[data-republish]")) {
      link = target;
    } else {
      link = scope.querySelector("a[data-republish]");
    }
    return { target: target, link: link };
  }

  function place(node, spot) {
    if (spot.link) {
      spot.link.replaceWith(node);
    } else if (spot.target) {
      spot.target.appendChild(node);
    } else if (script.parentNode && script.parentNode !== document.head) {
      script.parentNode.insertBefore(node, script.nextSibling);
    } else if (document.body) {
      document.body.appendChild(node);
    }
  }

  function hideLink(spot) {
    if (spot.link) {
      spot.link.hidden = true;
    }
  }

  function renderNotice(data, spot) {
    var notice = el("p", { class: "rp-widget rp-notice", role: "note" }, [
      el("strong", { class: "rp-notice-label" }, ["Republishing: "]),
      String(data.reason),
    ]);
    place(notice, spot);
  }

  function escapeHtml(text) {
    return text
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  // Plain text as HTML paragraphs, for a paste of the text section into a rich editor.
  function textAsHtml(text) {
    return text
      .split(/\n{2,}/)
      .filter(function (block) {
        return block.trim() !== "";
      })
      .map(function (block) {
        return "<p>" + escapeHtml(block).replace(/\n/g, "<br>") + "</p>";
      })
      .join("\n");
  }

  function copyWithSelection(textarea) {
    textarea.focus();
    textarea.select();
    var done = false;
    try {
      done = document.execCommand("copy");
    } catch (error) {
      done = false;
    }
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  // Both flavours go to the clipboard: a rich editor pastes text/html, a code box or
  // a plain field pastes text/plain. For the HTML section text/plain is the markup
  // itself, so a paste into a CMS's HTML box gets the tags, not the rendered words.
  function copy(flavours, textarea) {
    var clip = navigator.clipboard;
    if (clip && typeof clip.write === "function" && typeof window.ClipboardItem === "function") {
      var item = new window.ClipboardItem({
        "text/html": new Blob([flavours.html], { type: "text/html" }),
        "text/plain": new Blob([flavours.plain], { type: "text/plain" }),
      });
      return clip.write([item]).catch(function () {
        return fallbackCopy(flavours, textarea);
      });
    }
    return fallbackCopy(flavours, textarea);
  }

  function fallbackCopy(flavours, textarea) {
    var clip = navigator.clipboard;
    if (clip && typeof clip.writeText === "function") {
      return clip.writeText(flavours.plain).catch(function () {
        return copyWithSelection(textarea);
      });
    }
    return copyWithSelection(textarea);
  }

  // One labelled block of the dialog: a readonly textarea and its Copy button.
  function section(key, title, name, hint, value, flavours, status) {
    var id = uid + "-" + key;
    var textarea = el("textarea", {
      id: id,
      class: "rp-code",
      readonly: "",
      rows: key === "head" ? "2" : "7",
      spellcheck: "false",
      "aria-describedby": hint ? id + "-hint" : null,
    });
    textarea.value = value;
    var button = el("button", { type: "button", class: "rp-copy", "data-rp-copy": key }, [
      "Copy",
      el("span", { class: "rp-visually-hidden" }, [" " + name]),
    ]);
    button.addEventListener("click", function () {
      status.textContent = "";
      copy(flavours, textarea).then(
        function () {
          status.textContent = "Copied the " + name + ".";
        },
        function () {
          textarea.focus();
          textarea.select();
          status.textContent = "Could not copy: select the text and copy it yourself.";
        }
      );
    });
    return el("div", { class: "rp-section", "data-rp-section": key }, [
      el("div", { class: "rp-section-head" }, [
        el("label", { class: "rp-label", for: id }, [title]),
        button,
      ]),
      hint ? el("p", { class: "rp-hint", id: id + "-hint" }, [hint]) : null,
      textarea,
    ]);
  }

  function link(href, text) {
    return el("a", { class: "rp-link", href: href }, [text]);
  }

  function buildDialog(data, opener) {
    var titleId = uid + "-title";
    var status = el("p", { class: "rp-status", role: "status", "aria-live": "polite" });
    var close = el("button", { type: "button", class: "rp-close", "aria-label": "Close" }, [
      "\u00d7",
    ]);
    var links = [];
    if (data.guidelines_url) {
      links.push(el("li", {}, [link(data.guidelines_url, "Read the full guidelines")]));
    }
    if (data.canonical_guide_url) {
      links.push(el("li", {}, [link(data.canonical_guide_url, "How to keep the canonical link")]));
    }
    if (data.republish_url) {
      links.push(el("li", {}, [link(data.republish_url, "Open this on its own page")]));
    }
    var publisherName = (data.publisher && data.publisher.name) || "";
    var html = data.html || "";
    var head = data.head || "";
    var text = data.text || "";
    var dialog = el("dialog", { class: "rp-dialog", "aria-labelledby": titleId }, [
      el("div", { class: "rp-dialog-head" }, [
        el("h2", { class: "rp-title", id: titleId }, ["Republish this story"]),
        close,
      ]),
      data.headline ? el("p", { class: "rp-headline" }, [data.headline]) : null,
      data.guidelines_summary
        ? el("p", { class: "rp-summary" }, [data.guidelines_summary])
        : null,
      links.length ? el("ul", { class: "rp-links" }, links) : null,
      section(
        "html",
        "HTML",
        "HTML",
        "Paste into your CMS's HTML or code view. It carries the byline, credit line" +
          (publisherName ? " for " + publisherName : "") +
          " and a tracking pixel. Images are not included.",
        html,
        { html: html, plain: html },
        status
      ),
      section(
        "head",
        "For your page's <head>",
        "head tag",
        "Put this canonical link in the <head> of the page where the story runs.",
        head,
        { html: head, plain: head },
        status
      ),
      section("text", "Plain text", "plain text", "", text, { html: textAsHtml(text), plain: text }, status),
      data.contact_email
        ? el("p", { class: "rp-contact" }, [
            "Questions, or picking this story up? Email ",
            link("mailto:" + data.contact_email, data.contact_email),
            ".",
          ])
        : null,
      status,
    ]);
    close.addEventListener("click", function () {
      dialog.close();
    });
    // Esc closes natively; either way focus goes back to the button that opened it.
    dialog.addEventListener("close", function () {
      status.textContent = "";
      opener.focus();
    });
    // A click on the backdrop (outside the dialog box) closes it too.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) {
        var box = dialog.getBoundingClientRect();
        var inside =
          event.clientX >= box.left &&
          event.clientX <= box.right &&
          event.clientY >= box.top &&
          event.clientY <= box.bottom;
        if (!inside) {
          dialog.close();
        }
      }
    });
    return { dialog: dialog, close: close };
  }

  function renderButton(data, spot) {
    var label = (spot.link && spot.link.textContent.trim()) || "Republish This Story";
    var button = el("button", { type: "button", class: "rp-button", "aria-haspopup": "dialog" }, [
      label,
    ]);
    var wrapper = el("div", { class: "rp-widget" }, [button]);
    var built = null;
    button.addEventListener("click", function () {
      if (!built) {
        built = buildDialog(data, button);
        document.body.appendChild(built.dialog);
      }
      if (typeof built.dialog.showModal !== "function") {
        // No <dialog> support: the standalone page has the same content.
        location.href = data.republish_url;
        return;
      }
      built.dialog.showModal();
      built.close.focus();
    });
    place(wrapper, spot);
  }

  function render(data, spot) {
    if (!data || !data.found || !data.show) {
      hideLink(spot);
      return;
    }
    if (!data.republishable) {
      if (data.reason) {
        renderNotice(data, spot);
      } else {
        hideLink(spot);
      }
      return;
    }
    renderButton(data, spot);
  }

  loadStyles();
  var request = fetch(apiUrl(), { credentials: "omit", mode: "cors" }).then(function (response) {
    if (response.status === 404) {
      return { found: false };
    }
    if (!response.ok) {
      throw new Error("republish widget: API answered " + response.status);
    }
    return response.json();
  });
  Promise.all([request, domReady()]).then(
    function (results) {
      render(results[0], findSpot());
    },
    function (error) {
      // The no-JS link, if any, still works: leave the page as it is.
      if (window.console) {
        window.console.warn(String(error));
      }
    }
  );
})();
